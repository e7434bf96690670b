"""Accessibility (WCAG 2.1 AA) that the HTML shows; test_browser_a11y runs axe-core in Chromium."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from donotcall.models import Suppression
from imports.models import ImportJob, ImportTemplate
from imports.services import import_confirm
from tests.audit_fixtures import addition, auditor  # noqa: F401
from tests.conftest import ADMINISTRATORS, COMPLIANCE, make_user
from tests.import_files import csv_bytes, mapping_post, people, previewed, upload
from tests.test_four_eyes import change_request, edit, four_eyes, second_editor  # noqa: F401
from tests.test_scheduling import sales, scheduled  # noqa: F401
from tests.test_twofactor import code_at, enrolled, give_code
from tests.test_twofactor import log_in as log_in_with_a_code

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
VOID = {"area", "br", "col", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _AlertLinks(HTMLParser):
    """Links inside a Bootstrap alert without `alert-link`, by line."""

    def __init__(self):
        super().__init__()
        self.open: list[tuple[str, list[str]]] = []
        self.plain_links: list[int] = []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if (tag == "a" and "alert-link" not in classes and "btn" not in classes
                and any("alert" in outer for _, outer in self.open)):
            self.plain_links.append(self.getpos()[0])
        if tag not in VOID:
            self.open.append((tag, classes))

    def handle_endtag(self, tag):
        names = [name for name, _ in self.open]
        if tag in names:
            del self.open[len(names) - 1 - names[::-1].index(tag):]


class _Described(HTMLParser):
    """The page's ids, and each aria-describedby with the classes of its element."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.described: dict[str, tuple[list[str], list[str]]] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if attrs.get("aria-describedby"):
            self.described[attrs.get("name") or attrs.get("id")] = (
                attrs["aria-describedby"].split(), (attrs.get("class") or "").split())


def described(response) -> _Described:
    """The response's fields that name a description, after checking each id is on the page."""
    page = _Described()
    page.feed(response.content.decode())
    missing = {name: [ref for ref in refs if ref not in page.ids]
               for name, (refs, _) in page.described.items()}
    assert {name: refs for name, refs in missing.items() if refs} == {}
    return page


def _markup(template: Path) -> str:
    """The template's HTML with its tags and variables blanked, lines kept."""
    text = template.read_text()
    text = re.sub(r"\{#.*?#\}", "", text)
    text = re.sub(r"\{%.*?%\}", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
    return re.sub(r"\{\{.*?\}\}", "x", text, flags=re.S)


def test_every_link_inside_an_alert_has_the_alert_s_link_colour():
    # Bootstrap's plain link blue on an alert's tint is 3.4 to 4.1:1, under WCAG's 4.5:1.
    plain = {}
    for template in sorted(TEMPLATES.rglob("*.html")):
        parser = _AlertLinks()
        parser.feed(_markup(template))
        if parser.plain_links:
            plain[str(template.relative_to(TEMPLATES))] = parser.plain_links
    assert plain == {}


@pytest.mark.django_db
def test_the_timeline_s_filter_errors_and_help_are_what_their_fields_name(client, auditor,  # noqa: F811
                                                                         campaigns):
    client.force_login(auditor)
    response = client.get(reverse("audit:timeline"), {"date_from": "1800-01-01",
                                                      "date_to": "2999-99-99", "kind": "nonsense"})

    page = described(response)
    assert page.described["date_from"][0] == ["id_date_from_error"]
    assert page.described["date_to"][0] == ["id_date_to_error"]
    assert page.described["kind"] == (["id_kind_error"], ["form-select", "is-invalid"])
    assert page.described["q"][0] == ["id_q_helptext"]


@pytest.mark.django_db
def test_the_mapping_s_errors_and_help_are_what_their_fields_name(logged_in, campaigns):
    upload(logged_in, campaigns["00001"], csv_bytes(people(1)))
    job = ImportJob.objects.get()
    response = logged_in.post(reverse("imports:mapping", args=[job.pk]), mapping_post(
        job, column_2="record_fields.imie", template_name="x" * 101))

    page = described(response)
    assert page.described["column_2"] == (["id_column_2_error"],
                                           ["form-select", "form-select-sm", "is-invalid"])
    assert page.described["template_name"] == (["id_template_name_helptext",
                                                 "id_template_name_error"],
                                                ["form-control", "is-invalid"])


class _Elements(HTMLParser):
    """Each element's attributes, by its id."""

    def __init__(self):
        super().__init__()
        self.by_id: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.by_id[attrs["id"]] = {"tag": tag, **attrs}


def elements(response) -> dict[str, dict[str, str]]:
    page = _Elements()
    page.feed(response.content.decode())
    return page.by_id


def test_a_refused_login_is_an_alert_the_focused_username_names(client, user):
    response = client.post(reverse("login"), {"username": "manager", "password": "nope"})

    page = elements(response)
    assert page["login-error"]["role"] == "alert"
    assert "autofocus" in page["id_username"]
    assert page["id_username"]["aria-describedby"] == "login-error"
    assert response.content.decode().count("Please enter a correct username") == 1


def test_a_login_without_errors_names_no_alert(client, db):
    response = client.get(reverse("login"))

    assert "login-error" not in response.content.decode()
    assert "aria-describedby" not in elements(response)["id_username"]


def test_every_page_starts_with_a_link_past_the_menu_to_its_main_content(logged_in, campaigns):
    response = logged_in.get(reverse("campaigns:list"))

    body = response.content.decode().split("<body>", 1)[1].lstrip()
    assert body.startswith('<a class="visually-hidden-focusable d-inline-block p-2" '
                           'href="#content">Skip to main content</a>')
    page = elements(response)
    assert (page["content"]["tag"], page["content"]["tabindex"]) == ("main", "-1")
    assert '<nav class="navbar navbar-expand-xl navbar-dark bg-dark mb-4" aria-label="Main menu">' \
        in response.content.decode()


def test_an_import_s_page_reads_out_its_state_and_why_it_stopped(logged_in, campaigns):
    job = previewed(logged_in, campaigns["00001"], csv_bytes(people(2)))
    import_confirm(job=job)
    response = logged_in.get(job.get_absolute_url())

    html = response.content.decode()
    assert '<span class="fw-semibold" role="status" data-field="state_label">' in html
    assert '<p class="text-danger" role="alert" data-field="stop_reason">' in html


def test_a_check_s_page_reads_out_the_wait_for_a_worker_not_each_second_s_count(
        logged_in, campaigns, settings):
    settings.IMPORT_CHECK_INLINE_BYTES = 0  # as for a large file: a worker checks the rows
    upload(logged_in, campaigns["00001"], csv_bytes(people(2)))
    job = ImportJob.objects.get()
    logged_in.post(reverse("imports:mapping", args=[job.pk]), mapping_post(job))
    response = logged_in.get(job.get_absolute_url(), follow=True)

    page = elements(response)
    assert "role" not in page["import-checking"]
    html = response.content.decode()
    assert '<p class="mb-0" aria-live="off" data-testid="checked-so-far">' in html
    status = html.split('<div role="status" data-testid="check-status">', 1)[1]
    assert status.split("</div>", 1)[0].count('data-testid="waiting-for-a-worker"') == 1


def title(response) -> str:
    return response.content.decode().split("<title>", 1)[1].split("</title>", 1)[0]


def test_every_page_s_title_ends_with_the_portal_s_name_in_the_reader_s_language(
        logged_in, campaigns):
    assert title(logged_in.get(reverse("campaigns:list"))) == "Campaigns · Thulium Outbound Portal"
    polish = logged_in.get(reverse("campaigns:list"), headers={"accept-language": "pl"})
    assert title(polish) == "Kampanie · Portal kampanii wychodzących Thulium"


def test_a_change_request_s_title_is_its_number_and_campaign(change_request, logged_in):  # noqa: F811
    response = logged_in.get(change_request.get_absolute_url())

    assert title(response) == (f"Change request #{change_request.pk} · Sprzedaż OZE 2026"
                               " · Thulium Outbound Portal")


def test_a_scheduled_change_s_title_is_its_number_and_campaign(scheduled, logged_in):  # noqa: F811
    response = logged_in.get(scheduled.get_absolute_url(), headers={"accept-language": "pl"})

    assert title(response) == (f"Zaplanowana zmiana nr {scheduled.pk} · Sprzedaż OZE 2026"
                               " · Portal kampanii wychodzących Thulium")


def test_an_audit_entry_s_title_is_its_kind_and_number(logged_in, user, campaigns):
    entry = addition(actor=user, campaign=campaigns["00001"], phone="601234567")
    response = logged_in.get(entry.get_absolute_url())

    assert title(response) == (f"Record addition #{entry.pk} · Audit trail"
                               " · Thulium Outbound Portal")


class _Focused(HTMLParser):
    """The attributes of the elements the page focuses as it opens."""

    def __init__(self):
        super().__init__()
        self.elements: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "autofocus" in attrs:
            self.elements.append(attrs)


def focused_elements(html: str) -> list[dict[str, str]]:
    page = _Focused()
    page.feed(html)
    return page.elements


def focused_in(html: str) -> list[str]:
    """The names of the fields the page focuses as it opens."""
    return [element.get("name") for element in focused_elements(html)]


def focused(response) -> list[str]:
    return focused_in(response.content.decode())


def test_a_refused_campaign_edit_focuses_its_first_field_with_an_error(logged_in, campaigns):
    response = edit(logged_in, campaigns["00001"], caller_id="abc", order="0", reason="x")

    assert set(response.context["form"].errors) == {"order", "caller_id"}
    assert focused(response) == ["order"]


def test_a_refused_record_focuses_its_phone_number(logged_in, campaigns):
    response = logged_in.post(reverse("records:new", args=["00001"]), {"phone_number": "12"})

    assert focused(response) == ["phone_number"]


def test_a_form_without_errors_focuses_nothing(logged_in, campaigns):
    assert focused(logged_in.get(reverse("records:new", args=["00001"]))) == []


@pytest.mark.django_db
def test_the_do_not_call_forms_focus_their_first_field_with_an_error(client):
    client.force_login(make_user("officer", COMPLIANCE))
    added = client.post(reverse("donotcall:add"), {"phone_number": "601 234 567",
                                                   "campaign": "", "reason": "nonsense"})
    assert focused(added) == ["reason"]
    uploaded = client.post(reverse("donotcall:upload"), {
        "file": SimpleUploadedFile("lista.csv", b""), "campaign": "", "reason": "complaint"})
    assert focused(uploaded) == ["file"]
    client.post(reverse("donotcall:add"), {"phone_number": "601 234 567", "campaign": "",
                                           "reason": "request"})
    removal = reverse("donotcall:remove", args=[Suppression.objects.get().pk])
    assert focused(client.post(removal, {"reason": ""})) == ["reason"]


@pytest.mark.django_db
def test_a_refused_erasure_focuses_its_first_field_with_an_error(client):
    client.force_login(make_user("eraser", ADMINISTRATORS))
    response = client.post(reverse("audit:forget"), {"number": "601 234 567", "reference": ""})

    assert focused(response) == ["reference"]


def test_a_form_written_without_a_word_about_focus_focuses_its_first_error_alone():
    class Written(forms.Form):
        greeting = forms.CharField(widget=forms.TextInput(attrs={"autofocus": True}))
        count = forms.IntegerField()

    form = Written({"greeting": "hello", "count": "many"})

    assert focused_in(form.render()) == ["count"]


def test_a_refused_import_upload_or_mapping_focuses_its_first_wrong_field(logged_in, campaigns):
    uploaded = logged_in.post(reverse("imports:upload", args=["00001"]), {
        "file": SimpleUploadedFile("Kowalska 601 234 567.csv", csv_bytes(people(2)))})
    assert focused(uploaded) == ["file"]

    upload(logged_in, campaigns["00001"], csv_bytes(people(1)))
    job = ImportJob.objects.get()
    mapped = logged_in.post(reverse("imports:mapping", args=[job.pk]),
                            mapping_post(job, column_1="phone_number"))
    assert "is already chosen" in mapped.content.decode()
    assert focused(mapped) == ["column_1"]


def test_refused_timeline_filters_focus_the_first_wrong_one(logged_in, campaigns):
    response = logged_in.get(reverse("audit:timeline"),
                             {"date_from": "2026-05-05", "date_to": "2026-05-01"})

    assert focused(response) == ["date_to"]


def test_a_refused_cancellation_of_a_scheduled_change_focuses_its_reason(logged_in,
                                                                           scheduled):  # noqa: F811
    response = logged_in.post(reverse("campaigns:scheduled_cancel", args=[scheduled.pk]),
                              {"reason": "Pan Kowalski 601 234 567 nie chce"})

    assert focused(response) == ["reason"]


def test_a_refused_rejection_focuses_its_note(client, change_request, second_editor):  # noqa: F811
    client.force_login(second_editor)
    response = client.post(reverse("campaigns:request_reject", args=[change_request.pk]),
                           {"note": "Pan Kowalski 601 234 567 nie chce"})

    assert focused(response) == ["note"]


def test_a_refused_bulk_change_focuses_its_first_wrong_field(logged_in, campaigns):
    response = logged_in.post(reverse("campaigns:bulk"),
                              {"campaign": ["00001", "00002"], "order": "x"})

    assert focused(response) == ["order"]


def test_a_wrong_code_to_turn_two_factor_login_off_or_renew_codes_focuses_that_code(client,
                                                                                    user):
    device, _codes = enrolled(user)
    log_in_with_a_code(client)
    give_code(client, code_at(device))

    assert focused(client.post(reverse("twofactor:remove"), {"code": "12"})) == ["code"]
    renewal = client.post(reverse("twofactor:recovery_codes_new"), {"renew-code": "12"})
    assert focused(renewal) == ["renew-code"]


def test_a_refusal_of_the_whole_form_is_an_alert_the_page_focuses_when_no_field_is(
        logged_in, campaigns):
    unchanged = edit(logged_in, campaigns["00001"]).content.decode()
    set_nothing = logged_in.post(reverse("campaigns:bulk"),
                                 {"campaign": ["00001", "00002"]}).content.decode()
    for html, refusal in [(unchanged, "Nothing was changed, so nothing was sent to Thulium."),
                          (set_nothing, "Set at least one field to change")]:
        [alert] = focused_elements(html)
        assert (alert["role"], alert["tabindex"], refusal in html) == ("alert", "-1", True)

    upload(logged_in, campaigns["00001"], csv_bytes(people(1)))
    job = ImportJob.objects.get()
    no_phone_and_a_column_twice = logged_in.post(
        reverse("imports:mapping", args=[job.pk]),
        mapping_post(job, column_0="", column_2="record_fields.imie")).content.decode()
    assert focused_in(no_phone_and_a_column_twice) == ["column_2"]
    assert ('<div class="alert alert-block alert-danger" role="alert">'
            in no_phone_and_a_column_twice)
    assert "Choose the column that holds the phone number" in no_phone_and_a_column_twice


def test_the_language_switch_is_a_group_of_languages_named_in_themselves_the_chosen_pressed(
        client, db):
    html = client.get(reverse("login"), headers={"accept-language": "pl"}).content.decode()

    assert '<div role="group" aria-label="Język">' in html
    assert ('<button type="submit" name="language" value="en" class="btn btn-sm '
            'btn-outline-light" lang="en" aria-pressed="false">English</button>') in html
    assert ('<button type="submit" name="language" value="pl" class="btn btn-sm btn-light" '
            'lang="pl" aria-pressed="true">Polski</button>') in html


def test_the_saved_mapping_chosen_is_the_current_one(logged_in, campaigns):
    previewed(logged_in, campaigns["00001"], csv_bytes(people(1)), template_name="Targi")
    upload(logged_in, campaigns["00001"], csv_bytes(people(1)))
    mapping = reverse("imports:mapping", args=[ImportJob.objects.latest("pk").pk])
    template = ImportTemplate.objects.get()

    assert 'aria-current' not in logged_in.get(mapping).content.decode()
    chosen = logged_in.get(mapping, {"template": template.pk}).content.decode()
    assert f'href="?template={template.pk}" aria-current="true">Targi</a>' in chosen


def test_badges_say_what_they_mean_in_their_text_not_in_a_title_only_a_mouse_shows(
        logged_in, campaigns, settings):
    settings.THULIUM_SANDBOX = True
    job = previewed(logged_in, campaigns["00001"], csv_bytes(people(1)))
    ImportJob.objects.filter(pk=job.pk).update(rows_cleared_at=job.created_at)
    html = logged_in.get(reverse("imports:list")).content.decode()

    assert '<span class="badge text-bg-secondary">personal data cleared</span>' in html
    assert ('<span class="badge text-bg-warning me-auto">sandbox<span class="visually-hidden">: '
            "No THULIUM_API_URL is set: changes go to the bundled sandbox, not to a real "
            "Thulium.</span></span>") in html
