"""The Polish interface: a complete, compiled translation, chosen from the browser or the
page's switch; Polish dates and numbers; Thulium asked to answer in Polish."""

import ast
import datetime
import gettext
import os
import re
import shutil
from pathlib import Path

import polib
import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.html import escape, strip_tags
from django.utils.translation import gettext as gettext_now
from django.utils.translation import override

from audit.kinds import CARRIED_OVER, ERASURE
from audit.models import Entry
from campaigns.models import Campaign, ChangeRequest, ScheduledChange
from campaigns.services import campaign_update
from imports.models import BatchRefusal, ImportJob
from notices.models import Notice
from records.services import CUT_OFF
from tests.audit_fixtures import addition
from tests.conftest import api_calls
from tests.test_campaign_form import form_values

LOCALE = Path(settings.BASE_DIR) / "locale"
PO = LOCALE / "pl" / "LC_MESSAGES" / "django.po"
# The Polish of the libraries' admin pages: tests/test_polish_libraries.py.
LIBRARIES_PO = Path(settings.BASE_DIR) / "locale_libraries" / "pl" / "LC_MESSAGES" / "django.po"
# The apps of the portal, whose words are the catalogue's.
PORTAL_APPS = {config.label for config in apps.get_app_configs()
               if Path(config.path).is_relative_to(settings.BASE_DIR)
               and ".venv" not in Path(config.path).parts}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w*\}")


@pytest.fixture(scope="module")
def catalogue():
    return polib.pofile(str(PO))


@pytest.fixture(scope="module", params=[PO, LIBRARIES_PO], ids=["portal", "libraries"])
def each_catalogue(request):
    return polib.pofile(str(request.param))


def test_every_string_has_a_polish_translation(catalogue):
    assert len(catalogue) > 150
    assert not catalogue.metadata_is_fuzzy
    assert [e.msgid for e in catalogue.untranslated_entries()] == []
    assert [e.msgid for e in catalogue.fuzzy_entries()] == []
    assert [e.msgid for e in catalogue.obsolete_entries()] == []


def test_translations_keep_every_placeholder(each_catalogue):
    for entry in each_catalogue:
        wanted = sorted(PLACEHOLDER.findall(entry.msgid))
        translations = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
        for translation in translations:
            assert sorted(PLACEHOLDER.findall(translation)) == wanted, entry.msgid


def test_translations_name_settings_by_their_polish_labels(catalogue):
    """Kolejność and parytet, as the form and the list's columns say, not the English field
    names of Thulium's JSON, which the campaign list's note once used."""
    english = re.compile(r"\b(order|parity)\b")
    found = [entry.msgid for entry in catalogue
             for translation in (entry.msgstr_plural.values() if entry.msgid_plural
                                 else [entry.msgstr])
             if english.search(translation)]
    assert found == []


def test_the_committed_mo_is_the_compiled_po(each_catalogue):
    with Path(each_catalogue.fpath).with_suffix(".mo").open("rb") as compiled:
        mo = gettext.GNUTranslations(compiled)
    for entry in each_catalogue:
        if entry.msgid_plural:
            # Polish has four plural forms; 1, 2, 5 and 22 pick the first three.
            for count, form in ((1, 0), (2, 1), (5, 2), (22, 1)):
                assert mo.ngettext(entry.msgid, entry.msgid_plural, count) == (
                    entry.msgstr_plural[form]
                ), entry.msgid
        elif entry.msgctxt:
            assert mo.pgettext(entry.msgctxt, entry.msgid) == entry.msgstr, entry.msgid
        else:
            assert mo.gettext(entry.msgid) == entry.msgstr, entry.msgid
    # Nothing compiled that the .po no longer has (plural forms are keyed by their index,
    # a word of a context by the context, EOT and the word).
    expected = {""}
    for entry in each_catalogue:
        if entry.msgid_plural:
            expected |= {(entry.msgid, form) for form in entry.msgstr_plural}
        elif entry.msgctxt:
            expected.add(f"{entry.msgctxt}\x04{entry.msgid}")
        else:
            expected.add(entry.msgid)
    assert set(mo._catalog) == expected


# What `make messages` leaves out; everything else of the project is scanned for strings.
NOT_SCANNED = ("tests", "staticfiles", "build", "bench")


def _project_copy(target: Path) -> Path:
    """The project's sources and catalogue in `target`, so makemessages writes only there."""
    root = Path(settings.BASE_DIR)

    def skipped(directory, names):
        top = Path(directory) == root
        return [name for name in names if name == "__pycache__"
                or (top and (name.startswith(".") or name in NOT_SCANNED))]

    return Path(shutil.copytree(root, target, ignore=skipped))


def _keys(entries):
    return {(e.msgctxt, e.msgid, e.msgid_plural) for e in entries}


@pytest.mark.skipif(not shutil.which("xgettext") and os.environ.get("CI") != "true",
                    reason="xgettext (gettext) is not installed")
def test_the_translation_covers_every_string_in_the_code(catalogue, tmp_path, monkeypatch):
    """A string added without running `make messages` (and translating it) fails here."""
    committed = PO.read_bytes()
    project = _project_copy(tmp_path / "project")
    # makemessages scans the working directory and also writes to a ./locale it finds there,
    # so it runs inside the copy: the repository's catalogue is never touched.
    monkeypatch.chdir(project)
    with override_settings(LOCALE_PATHS=[project / "locale"]):
        call_command("makemessages", locale=["pl"], add_location="file", no_obsolete=True,
                     ignore_patterns=[f"{name}/*" for name in NOT_SCANNED], verbosity=0)
    fresh = polib.pofile(str(project / "locale" / "pl" / "LC_MESSAGES" / "django.po"))
    assert PO.read_bytes() == committed
    assert sorted(_keys(fresh) - _keys(catalogue), key=str) == [], "run `make messages`"
    assert sorted(_keys(catalogue) - _keys(fresh), key=str) == [], "run `make messages`"
    assert [e.msgid for e in fresh.untranslated_entries()] == []
    assert [e.msgid for e in fresh.fuzzy_entries()] == []


def test_no_string_is_marked_inside_an_f_string():
    """makemessages (xgettext) does not read inside an f-string: a header of the do-not-call
    export, f"{_('added_at')} ({zone})", was never in the catalogue, so English in Polish."""
    marks = {"_", "gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy",
             "pgettext", "pgettext_lazy", "npgettext", "npgettext_lazy"}
    root = Path(settings.BASE_DIR)
    scanned = [top for top in root.iterdir() if top.is_dir() and not top.name.startswith(".")
               and top.name not in NOT_SCANNED]
    hidden = [
        f"{source.relative_to(root)}:{call.lineno}"
        for source in [*root.glob("*.py"), *(path for top in scanned for path in top.rglob("*.py"))]
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.JoinedStr)
        for call in ast.walk(node)
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) in marks
    ]
    assert hidden == []


def test_every_plural_has_each_of_polish_four_forms(each_catalogue):
    """A form missing is no error to Django's compilemessages, but `msgfmt -c` refuses the
    catalogue, and a count it stands for shows the English words."""
    forms = int(re.search(r"nplurals=(\d+)", each_catalogue.metadata["Plural-Forms"]).group(1))
    lacking = [entry.msgid for entry in each_catalogue
               if entry.msgid_plural and not entry.obsolete
               and [n for n in range(forms) if entry.msgstr_plural.get(n)] != list(range(forms))]
    assert forms == 4 and lacking == []


def test_the_browser_language_chooses_polish(logged_in, campaigns):
    page = logged_in.get(reverse("campaigns:list"), HTTP_ACCEPT_LANGUAGE="pl-PL,pl;q=0.9")
    html = page.content.decode()
    assert '<html lang="pl">' in html
    assert "Kampanie" in html and "Odśwież z Thulium" in html


def test_english_is_the_default(logged_in, campaigns):
    html = logged_in.get(reverse("campaigns:list"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<html lang="en">' in html and "Refresh from Thulium" in html


def test_the_switch_in_the_page_keeps_polish(logged_in, campaigns):
    logged_in.post(reverse("set_language"), {"language": "pl", "next": "/campaigns/"})
    html = logged_in.get(reverse("campaigns:list"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Odśwież z Thulium" in html


def test_dates_and_numbers_follow_the_language(logged_in, campaigns, user):
    survey = campaigns["A7K2Q"]  # predictive_max_calls 2.5 in the sandbox
    change = campaign_update(campaign=campaigns["00001"], changes={"order": 3}, actor=user)
    polish = logged_in.get(survey.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    english = logged_in.get(survey.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "2,5" in polish and "2.5" in english
    assert "1 marca 2026" in polish and "1 March 2026" in english
    when = logged_in.get(change.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    month = ["stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia",
             "września", "października", "listopada", "grudnia"][change.created_at.month - 1]
    assert month in when


def test_the_yes_no_select_s_empty_choice_is_django_s_word_not_an_import_outcome(
        logged_in, campaigns):
    """The catalogue's "Unknown" (an import's row outcome, "Nieznany wynik") was taken for
    Django's own word on the campaign form's active select."""
    html = logged_in.get(reverse("campaigns:edit", args=["00001"]),
                         HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert ">Nieznany</option>" in html and "Nieznany wynik" not in html


def test_a_decimal_typed_the_polish_way_is_understood(logged_in, campaigns, thulium):
    url = reverse("campaigns:edit", args=["00001"])
    logged_in.post(
        url, {**form_values(logged_in.get(url), "name"), "predictive_min_calls": "0,5"},
        HTTP_ACCEPT_LANGUAGE="pl",
    )
    assert api_calls(thulium, "PUT")[0]["json"] == {"parameters": {"predictive_min_calls": 0.5}}


def test_thulium_is_asked_to_answer_in_polish_and_its_words_are_shown(logged_in, campaigns,
                                                                      thulium):
    url = reverse("records:new", args=["00001"])
    logged_in.post(url, {"phone_number": "225556677"}, HTTP_ACCEPT_LANGUAGE="pl")
    thulium.state.fail_next("refuse")
    page = logged_in.post(url, {"phone_number": "225556678"}, HTTP_ACCEPT_LANGUAGE="pl")
    assert {call["accept_language"] for call in api_calls(thulium)} == {"pl"}
    html = page.content.decode()
    assert "Thulium odrzucił żądanie:" in html and "Sandbox: odmowa na żądanie." in html


def test_an_entry_s_detail_is_in_the_reader_s_language_and_thulium_s_body_as_it_came(
        logged_in, campaigns, thulium, user):
    """The portal's words in a detail stayed English: those never marked for translation,
    and those followed by Thulium's body, as the whole was looked up in the catalogue."""
    url = reverse("records:new", args=["00001"])
    thulium.state.fail_next("broken_json", path="/api/outbounds/00001/records")
    logged_in.post(url, {"phone_number": "601234567"})
    broken = Entry.objects.get(kind="record-addition")
    assert "\n" in broken.detail  # the gateway's words, then the body Thulium sent
    body = broken.detail.partition("\n")[2]
    html = logged_in.get(broken.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert "the answer is not valid JSON" not in html and escape(body) in html
    cut_off = addition(actor=user, campaign=campaigns["00001"], phone="601555555",
                       outcome="unknown", detail=CUT_OFF)
    html = logged_in.get(cut_off.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert CUT_OFF not in html and gettext_in("pl", CUT_OFF) in html


def gettext_in(language: str, words: str) -> str:
    with override(language):
        return gettext_now(words)


def test_an_added_records_entry_page_names_each_fact_with_a_capital(logged_in, campaigns):
    """A model's verbose name is written lower-case (Django capitalises it where it heads
    something); a page using it as a label must too."""
    logged_in.post(reverse("records:new", args=["00001"]),
                   {"phone_number": "225556677", "identifier": "K-1"}, HTTP_ACCEPT_LANGUAGE="pl")
    entry = Entry.objects.get(kind="record-addition")
    page = logged_in.get(entry.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    labels = [strip_tags(label).strip() for label in re.findall(r"<dt[^>]*>(.*?)</dt>", page,
                                                                 re.S)]
    assert "Identyfikator rekordu w Thulium" in labels
    assert [label for label in labels if not label[:1].isupper()] == []


@pytest.mark.parametrize("count, english, polish", [
    (1, "1 entry had a phone number erased", "w 1 wpisie usunięto numer telefonu"),
    (3, "3 entries had a phone number erased", "w 3 wpisach usunięto numer telefonu"),
])
def test_a_count_in_a_summary_is_worded_as_each_language_counts(count, english, polish):
    erasure = Entry(kind=ERASURE.slug, results={"entries": count}, reason="RODO/7")
    carried = Entry(kind=CARRIED_OVER.slug, details={"entries": {"old": count}})
    with override("en"):
        assert ERASURE.summary(erasure) == f"{english} (reference RODO/7)"
    with override("pl"):
        assert ERASURE.summary(erasure) == f"{polish} (sygnatura RODO/7)"
        assert CARRIED_OVER.summary(carried) == {
            1: "1 wpis przeniesiono do jednego dziennika zdarzeń",
            3: "3 wpisy przeniesiono do jednego dziennika zdarzeń"}[count]


# Whole words, not parts of a slug ("request-decided").
ENGLISH_WORDS = re.compile(
    r"(?<![\w-])(by|at|to|for|of|request|succeeded|waiting|cancelled|refused)(?![\w-])")


@pytest.mark.parametrize("thing, polish_words", [
    (lambda: Entry(pk=3, kind="campaign-change", actor_username="ewa", outcome="succeeded"),
     ["zmieniono ustawienia", "udane", "nr 3"]),
    (lambda: ChangeRequest(campaign=Campaign(thulium_id="00001"), actor_username="ewa",
                           state="requested"), ["wniosek o zmianę", "czeka na zatwierdzenie"]),
    (lambda: ScheduledChange(campaign=Campaign(thulium_id="00001"), state="waiting",
                             apply_at=datetime.datetime(2026, 12, 5, 21, 30, tzinfo=datetime.UTC)),
     ["zaplanowana zmiana", "oczekuje"]),
    (lambda: ImportJob(campaign=Campaign(thulium_id="00001"), file_name="leady.csv",
                       state="cancelled"), ["anulowany"]),
    (lambda: BatchRefusal(http_status=400,
                          refused_at=datetime.datetime(2026, 12, 5, 21, 30, tzinfo=datetime.UTC)),
     ["HTTP 400"]),
    (lambda: Notice(kind="change-request-decided", user_id=5, state="sent"),
     ["Wynik wniosku o zmianę", "wysłane"]),
], ids=["entry", "change request", "scheduled change", "import", "batch refusal", "notice"])
def test_what_the_admin_names_an_object_by_is_in_the_reader_s_words(thing, polish_words):
    """The admin's titles, breadcrumbs and links name an object by its str(), which said
    "campaign-change #3 by ewa (succeeded)" to a Polish member of staff."""
    with override("pl"):
        name = str(thing())
    assert [words for words in polish_words if words not in name] == []
    assert ENGLISH_WORDS.findall(name) == []


def test_every_field_the_admin_shows_of_the_portal_s_models_has_a_label_to_translate():
    """A field with no verbose_name is labelled by its name, in English in every language:
    "Actor", "Heartbeat at", "Task id" on a Polish admin page."""
    unlabelled = [
        f"{model._meta.label}.{field.name}"
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in PORTAL_APPS
        for field in model._meta.fields
        if not field.auto_created and (field.editable or field.name in model_admin.readonly_fields)
        and not isinstance(field.verbose_name, Promise)
    ]
    assert unlabelled == []


def test_every_model_of_the_portal_has_names_to_translate():
    """The admin names every model among the permissions it offers, and a deletion's page
    counts what it takes by their plurals: "search term" and "import row" read in English
    in Polish, and a plural Django made of a translated name as "Język użytkownikas"."""
    unnamed = [model._meta.label for model in apps.get_models()
               if model._meta.app_label in PORTAL_APPS
               and not all(isinstance(model._meta.original_attrs.get(name), Promise)
                           for name in ("verbose_name", "verbose_name_plural"))]
    assert unnamed == []
