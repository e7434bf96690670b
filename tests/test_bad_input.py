"""Bad input never breaks a form page nor reaches Thulium; Thulium's refusals are shown."""

import re
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from campaigns.bulk_forms import BulkChangeForm
from campaigns.forms import CampaignForm, RejectionForm
from campaigns.schedule_forms import CancelForm
from donotcall.forms import RemovalForm, SuppressionForm
from imports.forms import MappingForm
from records.models import AddedRecord
from tests.conftest import (
    ADMINISTRATORS,
    AUDITORS,
    LOADERS,
    api_calls,
    changed_in_thulium_at_the_put,
    make_user,
)
from tests.import_files import csv_bytes, people, previewed
from tests.test_campaign_form import (
    CANNOT_CLEAR,
    KNOWN,
    campaign_changes,
    edit_url,
    form_values,
    submit,
)
from tests.test_record_form import add, additions, new_url

SCRIPT = '<script>alert("owned")</script>'
ESCAPED_SCRIPT = "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;"
HUGE_TEXT = "7" * 10_000
HUGE_NUMBER = str(10**30)
# Past the 4,300 digits CPython's int() reads: it raises instead.
ENDLESS_DIGITS = "1" * 5000


def campaign_values(client, campaign_id="00001"):
    return form_values(client.get(edit_url(campaign_id)), "name")


def record_values(client, campaign_id="00001"):
    return form_values(client.get(new_url(campaign_id)), "phone_number")


def shown(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def form_errors(response) -> dict:
    return response.context["form"].errors


def assert_nothing_changed_in_thulium(thulium):
    assert api_calls(thulium, "PUT") == []
    assert api_calls(thulium, "POST") == []
    assert thulium.state.campaign("00001")["parameters"] == KNOWN["parameters"]
    assert thulium.state.records("00001") == []


def assert_refused_next_to(field, response, thulium):
    """The form is shown again with one message, by `field`, and nothing was sent."""
    assert shown(response)
    assert list(form_errors(response)) == [field]
    assert_nothing_changed_in_thulium(thulium)


# --- empty values -------------------------------------------------------------------


def test_a_campaign_form_with_every_field_emptied_is_refused_field_by_field(
    logged_in, campaigns, thulium
):
    empty = dict.fromkeys(campaign_values(logged_in), "")
    response = logged_in.post(edit_url(), empty)
    page, errors = shown(response), form_errors(response)
    assert errors["name"] == ["This field is required."]
    assert {field for field, messages in errors.items() if CANNOT_CLEAR in messages} == {
        "dialer", "active", "start_date", "end_date", "order", "parity", "group_id",
        "caller_id", "preview_timeout", "predictive_max_calls", "predictive_min_calls",
    }
    assert CANNOT_CLEAR in page
    assert api_calls(thulium, "PUT") == []
    assert not campaign_changes().exists()


def test_a_record_form_with_every_field_empty_asks_for_the_phone_number(
    logged_in, campaigns, thulium
):
    empty = dict.fromkeys(record_values(logged_in), "")
    response = logged_in.post(new_url(), empty)
    assert shown(response)
    assert form_errors(response) == {"phone_number": ["This field is required."]}
    assert_nothing_changed_in_thulium(thulium)
    assert not additions().exists()
    assert not AddedRecord.objects.exists()


@pytest.mark.parametrize("url", [edit_url(), new_url()])
def test_a_post_without_any_field_shows_the_form_again(logged_in, campaigns, thulium, url):
    assert shown(logged_in.post(url, {}))
    assert_nothing_changed_in_thulium(thulium)


# --- huge values --------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("name", HUGE_TEXT), ("dialer", HUGE_TEXT), ("start_date", HUGE_TEXT),
    ("end_date", HUGE_TEXT), ("caller_id", HUGE_TEXT), ("reason", HUGE_TEXT),
    ("order", HUGE_TEXT), ("order", HUGE_NUMBER), ("parity", HUGE_NUMBER),
    ("group_id", HUGE_NUMBER), ("preview_timeout", HUGE_NUMBER),
    ("predictive_max_calls", HUGE_NUMBER), ("predictive_min_calls", HUGE_TEXT),
])
def test_a_huge_campaign_value_is_refused_next_to_its_field(
    logged_in, campaigns, thulium, field, value
):
    response = submit(logged_in, **{field: value})
    assert_refused_next_to(field, response, thulium)


@pytest.mark.parametrize("field, value", [
    ("phone_number", HUGE_TEXT), ("status_id", HUGE_TEXT), ("dictionary_status_id", HUGE_NUMBER),
    ("agent_login", HUGE_TEXT), ("next_call_date", HUGE_TEXT), ("identifier", HUGE_TEXT),
    ("order", HUGE_NUMBER), ("order", HUGE_TEXT), ("record_fields.imie", HUGE_TEXT),
])
def test_a_huge_record_value_is_refused_next_to_its_field(
    logged_in, campaigns, thulium, field, value
):
    response = add(logged_in, {"phone_number": "601234567", field: value})
    assert_refused_next_to(field, response, thulium)


# --- HTML in text fields ------------------------------------------------------------


@pytest.mark.parametrize("field", ["name", "caller_id", "reason"])
def test_html_typed_into_the_campaign_form_is_shown_escaped(logged_in, campaigns, thulium, field):
    # The invalid order keeps the page on the form, which shows the input back.
    page = shown(submit(logged_in, order="0", **{field: SCRIPT}))
    assert ESCAPED_SCRIPT in page
    assert "<script>alert" not in page
    assert api_calls(thulium, "PUT") == []


def test_an_html_campaign_name_accepted_by_thulium_is_shown_escaped(
    logged_in, campaigns, thulium
):
    response = submit(logged_in, name=SCRIPT, reason=SCRIPT)
    assert api_calls(thulium, "PUT")[0]["json"] == {"name": SCRIPT}
    for url in (response.url, reverse("campaigns:list"), edit_url(),
                campaign_changes().get().get_absolute_url()):
        page = shown(logged_in.get(url))
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert" in page


@pytest.mark.parametrize("field", ["phone_number", "identifier", "record_fields.imie"])
def test_html_typed_into_the_record_form_is_shown_escaped(logged_in, campaigns, thulium, field):
    page = shown(add(logged_in, {"phone_number": "601234567", "order": "0", field: SCRIPT}))
    assert ESCAPED_SCRIPT in page
    assert "<script>alert" not in page
    assert_nothing_changed_in_thulium(thulium)


def test_html_in_an_added_record_is_shown_escaped_in_the_history(logged_in, campaigns, thulium):
    response = add(logged_in, {"phone_number": "601234567", "record_fields.imie": SCRIPT})
    assert api_calls(thulium, "POST")[0]["json"]["record_fields"] == {"imie": SCRIPT}
    # The campaign's history and the timeline show the entry's summary, not what was sent;
    # the entry's own page shows the field's value.
    for url in (response.url, reverse("audit:timeline")):
        assert "<script>alert" not in shown(logged_in.get(url))
    page = shown(logged_in.get(additions().get().get_absolute_url()))
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page


# --- bytes that are not UTF-8, NUL characters ---------------------------------------


def raw_post(client, url, values: dict, raw: bytes):
    """POST a urlencoded body whose last part is raw bytes, as a broken client might."""
    body = urlencode(values).encode("ascii") + b"&" + raw
    return client.generic("POST", url, data=body,
                          content_type="application/x-www-form-urlencoded")


@pytest.mark.parametrize("raw", [b"order=5\xff0", b"order=\xc3\x28", b"order=\x80\x80"])
def test_a_campaign_body_that_is_not_utf8_is_refused_without_error(
    logged_in, campaigns, thulium, raw
):
    values = campaign_values(logged_in)
    del values["order"]
    response = raw_post(logged_in, edit_url(), values, raw)
    assert_refused_next_to("order", response, thulium)


@pytest.mark.parametrize("raw", [b"phone_number=601\xff234567", b"phone_number=\xc3\x28\x80"])
def test_a_record_body_that_is_not_utf8_is_refused_without_error(
    logged_in, campaigns, thulium, raw
):
    values = record_values(logged_in)
    del values["phone_number"]
    response = raw_post(logged_in, new_url(), values, raw)
    assert_refused_next_to("phone_number", response, thulium)


@pytest.mark.parametrize("field, value", [
    ("name", "Nowa\x00nazwa"), ("caller_id", "221\x00234567"), ("reason", "bo\x00tak"),
    ("order", "5\x000"), ("start_date", "2026-01-06\x00"), ("dialer", "preview\x00"),
])
def test_a_nul_character_in_the_campaign_form_is_refused(
    logged_in, campaigns, thulium, field, value
):
    response = submit(logged_in, **{field: value})
    assert_refused_next_to(field, response, thulium)


@pytest.mark.parametrize("field, value", [
    ("phone_number", "601\x00234567"), ("identifier", "OZE\x000001"),
    ("record_fields.imie", "Zo\x00fia"), ("agent_login", "jkowalski\x00"),
    ("next_call_date", "2026-12-01\x00T09:30"),
])
def test_a_nul_character_in_the_record_form_is_refused(
    logged_in, campaigns, thulium, field, value
):
    response = add(logged_in, {"phone_number": "601234567", field: value})
    assert_refused_next_to(field, response, thulium)


def test_a_nul_after_the_next_call_date_never_reaches_thulium(logged_in, campaigns, thulium):
    response = add(logged_in, {"phone_number": "601234567",
                               "next_call_date": "2026-12-01T09:30\x00"})
    # CPython's datetime.fromisoformat (which Django tries first) ignores one trailing NUL.
    if response.status_code == 302:
        sent = api_calls(thulium, "POST")[0]
        assert sent["json"]["next_call_date"] == "2026-12-01 09:30"
        assert "\\u0000" not in sent["body"]
    else:
        assert list(form_errors(response)) == ["next_call_date"]
        assert_nothing_changed_in_thulium(thulium)


@pytest.mark.parametrize("query", [
    "/admin/audit/entry/?outcome__exact=%00", "/admin/audit/entry/?kind=%00",
    "/admin/audit/entry/?q=a%00b", "/admin/imports/importjob/?state__exact=%00",
    "/admin/notices/notice/?kind__exact=%00", "/admin/campaigns/campaign/?kind__exact=%00",
    "/admin/campaigns/changerequest/?state__exact=%00",
    "/admin/campaigns/scheduledchange/?state__exact=%00", "/admin/audit/entry/?o%00=1",
])
def test_a_nul_in_an_admin_list_s_filter_gets_the_400_page(client, campaigns, query):
    """PostgreSQL cannot hold a NUL in text: the list failed with a server error there."""
    client.force_login(make_user("root", ADMINISTRATORS, is_staff=True, is_superuser=True))
    path, query_string = query.split("?")
    response = client.get(path, QUERY_STRING=query_string)
    assert response.status_code == 400
    assert 'data-testid="error-page"' in response.content.decode()


# --- phone numbers in text the portal keeps ------------------------------------------

NAMED_NUMBER = "Pani Kowalska (601 234 567) prosiła o zmianę"
NUMBER_KEPT_OUT = "Leave the phone number out: the portal keeps this text as typed"


def test_a_phone_number_in_a_change_s_reason_is_refused_with_the_input_kept(
        logged_in, campaigns, thulium):
    """The reason went into the audit trail, where an erasure of the number did not reach it."""
    response = submit(logged_in, name="Jesień", reason=NAMED_NUMBER)
    assert_refused_next_to("reason", response, thulium)
    assert NUMBER_KEPT_OUT in form_errors(response)["reason"][0]
    kept = form_values(response, "name")
    assert (kept["name"], kept["reason"]) == ("Jesień", NAMED_NUMBER)
    assert not campaign_changes().exists()


# Each form with free text the portal keeps, filled with a number in that text.
KEPT_TEXTS = {
    "edit reason": (lambda: CampaignForm({"name": "Jesień", "reason": NAMED_NUMBER}), "reason"),
    "bulk reason": (lambda: BulkChangeForm({"campaign": ["00001"], "order": "3",
                                            "reason": NAMED_NUMBER}), "reason"),
    "rejection note": (lambda: RejectionForm({"note": NAMED_NUMBER}), "note"),
    "cancel reason": (lambda: CancelForm({"reason": NAMED_NUMBER}), "reason"),
    "template name": (lambda: MappingForm(
        {"template_name": "Leady 601234567"}, headers=["Telefon"],
        targets=[("phone_number", "Phone number")], mapping=["phone_number"]), "template_name"),
    "do-not-call note": (lambda: SuppressionForm({
        "phone_number": "601000001", "campaign": "", "reason": "request",
        "note": "oddzwonić na +48 602 345 678"}), "note"),
    "removal reason": (lambda: RemovalForm({"reason": "klient 601 000 001 prosi o kontakt"}),
                       "reason"),
}


@pytest.mark.parametrize("kept_text", KEPT_TEXTS)
def test_a_phone_number_in_any_kept_text_is_refused_next_to_its_field(campaigns, kept_text):
    make_form, field = KEPT_TEXTS[kept_text]
    form = make_form()
    assert not form.is_valid()
    assert [error.code for error in form.errors.as_data()[field]] == ["number"]
    assert NUMBER_KEPT_OUT in form.errors[field][0]


# --- ids typed in addresses ---------------------------------------------------------


@pytest.mark.parametrize("url", ["/audit/", "/audit/export.csv", "/audit/export.jsonl"])
@pytest.mark.parametrize("digits", [ENDLESS_DIGITS, str(2**63)])
def test_a_timeline_user_of_endless_digits_is_no_user(client, db, url, digits):
    client.force_login(make_user("auditor", AUDITORS))
    # An export refused for its filters sends back to the timeline, which names them.
    assert client.get(url, {"user": digits}).status_code in (200, 302)


@pytest.mark.parametrize("digits", [ENDLESS_DIGITS, str(2**63)])
def test_an_import_template_of_endless_digits_is_no_template(client, campaigns, digits):
    client.force_login(make_user("loader", LOADERS))
    job = previewed(client, campaigns["00001"], csv_bytes(people(3)))
    response = client.get(reverse("imports:mapping", args=[job.pk]), {"template": digits})
    assert response.status_code == 200


@pytest.mark.parametrize("digits", [ENDLESS_DIGITS, str(2**63), str(2**63 - 1)])
def test_an_admin_audit_search_of_endless_digits_finds_nothing(client, db, digits):
    client.force_login(make_user("root", ADMINISTRATORS, is_staff=True, is_superuser=True))
    response = client.get("/admin/audit/entry/", {"q": digits})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


# --- campaigns that do not exist ----------------------------------------------------


@pytest.mark.parametrize("campaign_id", ["ZZZZZ", "99999", "0001", "000001", "x" * 300,
                                         "00%0001", "0%C3%B3001"])
@pytest.mark.parametrize("method, url", [
    ("get", "/campaigns/{}/"), ("get", "/campaigns/{}/edit/"), ("post", "/campaigns/{}/edit/"),
    ("get", "/campaigns/{}/records/new/"), ("post", "/campaigns/{}/records/new/"),
    ("post", "/campaigns/{}/records/refresh-choices/"),
])
def test_a_campaign_the_portal_does_not_know_is_404(
    logged_in, campaigns, thulium, campaign_id, method, url
):
    response = getattr(logged_in, method)(
        url.format(campaign_id), {"phone_number": "601234567", "name": "x"}
    )
    assert response.status_code == 404
    assert api_calls(thulium) == []


# --- Thulium says no ----------------------------------------------------------------


def refused_on_request(thulium, monkeypatch):
    thulium.state.fail_next("refuse", path="/api/outbounds/00001")
    return "Sandbox: refused on request."


def start_changed_in_thulium_meanwhile(thulium, monkeypatch):
    # Someone moved the start in Thulium itself as the change was sent; the portal still
    # knows 2026-01-05.
    changed_in_thulium_at_the_put(monkeypatch, thulium, {"start_date": "2026-11-01"})
    return "End date cannot be earlier than start date."


@pytest.mark.parametrize("refusal", [refused_on_request, start_changed_in_thulium_meanwhile])
def test_a_campaign_change_thulium_refuses_shows_its_words_above_the_kept_input(
    logged_in, campaigns, thulium, refusal, monkeypatch
):
    shown_values = form_values(logged_in.get(edit_url()), "name")
    message = refusal(thulium, monkeypatch)  # after the form was opened, which reads the campaign
    response = logged_in.post(edit_url(), {**shown_values, "end_date": "2026-10-01",
                                           "reason": "Shorter season", "confirmed": "1"})
    page = shown(response)
    change = campaign_changes().get()
    assert change.outcome == "refused"
    assert re.fullmatch(r"[0-9a-f]{13}", change.request_id)
    assert change.messages == [message]
    assert change.http_status == 400
    assert change.completed_at is not None
    alert = page.index('data-testid="thulium-error"')
    assert alert < page.index('id="id_name"')
    assert f"<li>{message}</li>" in page[alert:]
    assert f"<code>{change.request_id}</code>" in page
    kept = form_values(response, "name")
    assert (kept["end_date"], kept["reason"]) == ("2026-10-01", "Shorter season")
    campaigns["00001"].refresh_from_db()
    assert campaigns["00001"].settings == KNOWN


def records_refused_on_request(thulium):
    thulium.state.fail_next("refuse", path="/api/outbounds/00001/records")
    return "Sandbox: refused on request."


def number_added_in_thulium_directly(thulium):
    # Thulium has the number already, from outside the portal: only Thulium can tell.
    thulium.state.add_record("00001", {"phone_number": "601234567"}, lambda *stored: [])
    return "Phone number already exists in the campaign."


@pytest.mark.parametrize("refusal", [records_refused_on_request, number_added_in_thulium_directly])
def test_a_record_thulium_refuses_shows_its_words_above_the_kept_input(
    logged_in, campaigns, thulium, refusal
):
    message = refusal(thulium)
    response = add(logged_in, {"phone_number": "601 234 567", "status_id": "3",
                               "record_fields.imie": "Zofia"})
    page = shown(response)
    addition = additions().get()
    assert addition.outcome == "refused"
    assert re.fullmatch(r"[0-9a-f]{13}", addition.request_id)
    assert addition.messages == [message]
    assert addition.http_status == 400
    assert addition.results.get("record_id", "") == ""
    alert = page.index('data-testid="thulium-error"')
    assert alert < page.index('id="id_phone_number"')
    assert f"<li>{message}</li>" in page[alert:]
    assert f"<code>{addition.request_id}</code>" in page
    kept = form_values(response, "phone_number")
    assert (kept["phone_number"], kept["status_id"], kept["record_fields.imie"]) == (
        "601 234 567", "3", "Zofia"
    )


def test_thulium_words_quoting_html_are_shown_escaped(logged_in, campaigns, thulium):
    # A structure field kept locally that Thulium does not know: Thulium quotes its name.
    campaign = campaigns["00001"]
    campaign.structure_fields = [SCRIPT]
    campaign.save()
    page = shown(add(logged_in, {"phone_number": "601234567", f"record_fields.{SCRIPT}": "x"}))
    said = "Field {} does not exist in the campaign."
    assert additions().get().messages == [said.format(SCRIPT)]
    assert f"<li>{said.format(ESCAPED_SCRIPT)}</li>" in page
    assert "<script>alert" not in page


def test_the_record_form_still_works_when_statuses_cannot_be_read(logged_in, campaigns, thulium):
    thulium.state.fail_next("http_502", path="/api/outbounds/00001/statuses")
    page = shown(logged_in.get(new_url()))
    assert "Statuses and agents could not be read from Thulium" in page
    response = logged_in.post(new_url(), {"phone_number": "601234567"})
    assert response.status_code == 302
    assert api_calls(thulium, "POST")[0]["json"] == {"phone_number": "601234567"}
