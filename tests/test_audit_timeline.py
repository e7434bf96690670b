"""The audit timeline: every kind of entry in one list, filters that combine, keyset pages."""

import csv
import datetime as dt
import io
import json
import re
from functools import partial
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.kinds import all_kinds
from audit.models import Entry
from audit.recording import entries_complete, entry_begin, entry_complete, outcome_values
from audit.services import timeline_page
from campaigns.entries import CHANGE_REQUEST, SCHEDULED_CHANGE, THULIUM_PRESENCE, ScheduleStep, Step
from campaigns.models import Campaign
from campaigns.presence import presence_mark
from campaigns.reading import database_now
from imports.models import ImportJob
from imports.services import import_cancel, import_confirm
from records.entries import IMPORT_ENDED_FIRST, LISTED_SINCE_CHECKED
from tests.audit_fixtures import addition, auditor, change, colleague  # noqa: F401
from tests.import_files import csv_bytes, people, previewed

pytestmark = pytest.mark.django_db

WARSAW = ZoneInfo("Europe/Warsaw")
TIMELINE = reverse("audit:timeline")


def at(day: int, hour: int = 12, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=WARSAW)


def rows(response) -> list:
    return [row.entry for row in response.context["page"].rows]


@pytest.fixture
def watched(client, auditor):  # noqa: F811
    client.force_login(auditor)
    return client


@pytest.fixture
def trail(user, colleague, campaigns):  # noqa: F811
    """Six entries: two users, two campaigns, both kinds, four outcomes, three months."""
    sales, debts = campaigns["00001"], campaigns["00002"]
    return {
        "dialer": change(actor=user, campaign=sales, sent={"dialer": "predictive"}, when=at(1)),
        "added": addition(actor=user, campaign=sales, phone="601 234 567", when=at(2),
                          identifier="K-100", http_status=200, record_id="231"),
        "refused": addition(actor=colleague, campaign=sales, phone="+48 601 234 568",
                            when=at(3), outcome="refused", request_id="7f3a9c2e4b1d0",
                            messages=["Numer już istnieje"]),
        "other": change(actor=colleague, campaign=debts, sent={"order": 9}, when=at(4)),
        "pending": addition(actor=user, campaign=debts, phone="601234569", when=at(5, month=4),
                            outcome="pending"),
        "late": change(actor=user, campaign=sales, sent={"parameters": {"caller_id": "456"}},
                       when=at(6, month=5), outcome="unknown", detail="read timeout"),
    }


def test_the_timeline_shows_every_kind_newest_first(watched, trail):
    response = watched.get(TIMELINE)

    assert response.status_code == 200
    assert rows(response) == [trail[name] for name in
                              ("late", "pending", "other", "refused", "added", "dialer")]
    text = response.content.decode()
    assert "settings changed: Caller ID" in text  # as the campaign form names it
    assert "record added: 601 234 567 (record id 231)" in text
    # Refused, it is an addition, not a record added.
    assert "record addition: +48 601 234 568" in text
    assert "record added: +48 601 234 568" not in text
    assert "7f3a9c2e4b1d0" in text


@pytest.mark.parametrize(("query", "expected"), [
    ({"kind": "record-addition"}, ["pending", "refused", "added"]),
    ({"outcome": "refused"}, ["refused"]),
    ({"outcome": "pending"}, ["pending"]),
    ({"outcome": "unknown"}, ["late"]),
    ({"campaign": "00002"}, ["pending", "other"]),
    ({"date_from": "2026-03-02", "date_to": "2026-03-03"}, ["refused", "added"]),
    ({"date_to": "2026-03-01"}, ["dialer"]),
    ({"campaign": "00001", "kind": "campaign-change", "date_from": "2026-03-01",
      "date_to": "2026-03-31"}, ["dialer"]),
    ({"campaign": "00001", "outcome": "succeeded", "kind": "record-addition"}, ["added"]),
])
def test_filters_combine(watched, trail, query, expected):
    response = watched.get(TIMELINE, query)

    assert rows(response) == [trail[name] for name in expected]


def step_of(kind, step: str, *, actor, campaign, when) -> Entry:
    """A four-eyes or scheduled change's step as its app records it: a succeeded entry."""
    return entry_complete(entry_begin(
        kind=kind.slug, actor=actor, campaign=campaign, sent={"dialer": "predictive"},
        details={"step": step, "settings_before": {}}, created_at=when), outcome="succeeded")


def test_a_step_is_found_as_its_outcome_reads_not_as_succeeded(watched, trail, user):
    """A request rejected or a scheduled change cancelled reads "rejected", "cancelled" where
    the outcome is, and the outcome filter found it as "succeeded", the step being stored so."""
    made = partial(step_of, actor=user, campaign=trail["dialer"].campaign)
    rejected = made(CHANGE_REQUEST, Step.REJECTED, when=at(7))
    approved = made(CHANGE_REQUEST, Step.APPROVED, when=at(8))
    cancelled = made(SCHEDULED_CHANGE, ScheduleStep.CANCELLED, when=at(9))

    assert rows(watched.get(TIMELINE, {"outcome": "succeeded"})) == [
        trail["other"], trail["added"], trail["dialer"]]
    for choice, found in (("change-request.rejected", rejected),
                          ("change-request.approved", approved),
                          ("scheduled-change.cancelled", cancelled)):
        assert rows(watched.get(TIMELINE, {"outcome": choice})) == [found]
    _, exported = b"".join(watched.get(reverse("audit:export_csv"), {
        "outcome": "scheduled-change.cancelled"}).streaming_content).decode().splitlines()
    assert exported.startswith(f"scheduled-change;scheduled change;{cancelled.pk};")
    # The choices are the column's words, under the action that records them.
    page = unescape(watched.get(TIMELINE, HTTP_ACCEPT_LANGUAGE="pl").content.decode())
    choices = re.search(r'<select name="outcome".*?</select>', page, re.S).group()
    assert re.search(r'<optgroup label="Etap zasady czterech oczu">\s*'
                     r'<option value="change-request.requested"', choices)
    assert '<option value="change-request.rejected">odrzucony</option>' in choices
    assert '<option value="scheduled-change.cancelled">anulowana</option>' in choices


def test_an_addition_never_sent_is_found_as_not_sent_not_as_failed(watched, trail, user):
    """An addition whose import was cancelled (or whose number was put on the do-not-call
    list) reads "not sent", and the outcome filter found it only under "failed"."""
    sales = trail["added"].campaign
    cancelled = addition(actor=user, campaign=sales, phone="601234570", when=at(7),
                         outcome="failed", detail=IMPORT_ENDED_FIRST)
    listed = addition(actor=user, campaign=sales, phone="601234571", when=at(8),
                      outcome="failed", detail=LISTED_SINCE_CHECKED)
    failed = addition(actor=user, campaign=sales, phone="601234572", when=at(9),
                      outcome="failed", detail="HTTP 503")

    # A link saved before "not sent" was offered still works, for what reads "failed".
    assert rows(watched.get(TIMELINE, {"outcome": "failed"})) == [failed]
    assert rows(watched.get(TIMELINE, {"outcome": "not_sent"})) == [listed, cancelled]
    exported = list(csv.DictReader(io.StringIO(b"".join(watched.get(
        reverse("audit:export_csv"), {"outcome": "not_sent"}).streaming_content)
        .decode().lstrip("\ufeff")), delimiter=";"))
    # The export keeps the outcome stored, and says why in its detail.
    assert [(row["id"], row["outcome"], row["detail"]) for row in exported] == [
        (str(listed.pk), "failed", LISTED_SINCE_CHECKED),
        (str(cancelled.pk), "failed", IMPORT_ENDED_FIRST)]
    lines = b"".join(watched.get(reverse("audit:export_jsonl"), {"outcome": "failed"})
                     .streaming_content).decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [failed.pk]
    page = unescape(watched.get(TIMELINE, HTTP_ACCEPT_LANGUAGE="pl").content.decode())
    choices = re.search(r'<select name="outcome".*?</select>', page, re.S).group()
    assert re.search(r'<option value="failed">nieudane</option>\s*'
                     r'<option value="unknown">[^<]+</option>\s*'
                     r'<option value="not_sent">nie wysłano</option>', choices)


@pytest.mark.parametrize(("language", "typed"), [
    ("en", "03/02/2026"), ("en", "3/2/26"), ("pl", "26-03-02"), ("pl", "2026/03/02"),
])
def test_a_date_that_could_be_read_two_ways_is_refused_next_to_its_field(
    watched, trail, language, typed
):
    """English read "03/02/2026" as 2 March (Django's formats for the language), though
    the portal reads no date that could be read two ways; Polish read "26-03-02"."""
    response = watched.get(TIMELINE, {"date_from": typed}, HTTP_ACCEPT_LANGUAGE=language)

    assert response.context["page"] is None
    (error,) = response.context["form"].errors.as_data()["date_from"]
    assert error.code == "invalid"
    assert 'id="id_date_from_error"' in response.content.decode()
    if language == "en":
        assert error.message == "Enter a date as YYYY-MM-DD or DD.MM.YYYY."


@pytest.mark.parametrize("typed", ["2026-03-02", "02.03.2026", "2.3.2026"])
def test_a_date_is_read_as_iso_or_day_first_with_dots(watched, trail, typed):
    response = watched.get(TIMELINE, {"date_from": typed, "date_to": "2026-03-03"})

    assert rows(response) == [trail["refused"], trail["added"]]


def test_the_user_filter_picks_one_users_actions(watched, trail, user, colleague):  # noqa: F811
    mine = watched.get(TIMELINE, {"user": user.pk, "campaign": "00001", "date_from": "2026-03-01",
                                  "date_to": "2026-03-31"})
    theirs = watched.get(TIMELINE, {"user": colleague.pk})

    assert rows(mine) == [trail["added"], trail["dialer"]]
    assert rows(theirs) == [trail["other"], trail["refused"]]


@pytest.mark.parametrize(("search", "expected"), [
    ("601234567", ["added"]),  # written without the spaces it was entered with
    ("+48601234568", ["refused"]),  # written with the country code it was entered without
    ("K-100", ["added"]),
    ("231", ["added"]),
    ("7f3a9c2e4b1d0", ["refused"]),
    ("  7f3a9c2e4b1d0 ", ["refused"]),
    ("7f3a9c", []),  # exact matches only
])
def test_the_search_finds_numbers_identifiers_record_ids_and_request_ids(watched, trail, search,
                                                                       expected):
    response = watched.get(TIMELINE, {"q": search})

    assert rows(response) == [trail[name] for name in expected]


@pytest.mark.parametrize("search", ["601 234 567", "0601234567", "+48 601 234 567"])
def test_the_search_finds_a_number_keyed_with_a_trunk_zero_as_the_erasure_does(watched, user,
                                                                               campaigns,
                                                                               search):
    """Written "0601234567" before the portal read numbers without the 0, the entry's term
    is keyed "480601234567": an erasure finds it (audit.personal.number_digests_ever), so
    the search for the number must too, or "its entries in the audit trail" lack one."""
    old = addition(actor=user, campaign=campaigns["00001"], phone="0601234567")
    new = addition(actor=user, campaign=campaigns["00001"], phone="601234567")

    assert set(rows(watched.get(TIMELINE, {"q": search}))) == {old, new}


@pytest.mark.parametrize("search", ["\u017b\u00f3\u0142\u0107-1",
                                    "Z\u0307o\u0301\u0142c\u0301-1"],
                         ids=["composed", "decomposed"])
@pytest.mark.parametrize("stored", ["\u017b\u00f3\u0142\u0107-1",
                                    "Z\u0307o\u0301\u0142c\u0301-1"],
                         ids=["composed", "decomposed"])
def test_an_identifier_is_found_in_either_unicode_form_of_its_letters(watched, user, campaigns,
                                                                      stored, search):
    """"Żółć-1" copied from a PDF or a Mac may come with its accents as letters of their
    own (NFD): the same identifier to the reader."""
    entry = addition(actor=user, campaign=campaigns["00001"], phone="601234567",
                     identifier=stored)

    assert rows(watched.get(TIMELINE, {"q": search})) == [entry]


def test_pages_walk_the_whole_timeline_both_ways_without_gaps_or_repeats(
    watched, user, campaigns, monkeypatch
):
    monkeypatch.setattr("audit.views.timeline_page", partial(timeline_page, size=4))
    sales = campaigns["00001"]
    entries = []
    for n in range(11):
        # Several entries share an instant, of both kinds: the order must still be total.
        when = at(1 + n // 3)
        entries.append(change(actor=user, campaign=sales, sent={"order": n + 1}, when=when))
        entries.append(addition(actor=user, campaign=sales, phone=f"60123{n:04d}", when=when))
    newest_first = sorted(entries, key=lambda e: (e.created_at, e.pk), reverse=True)

    pages, response = [], watched.get(TIMELINE, {"campaign": "00001"})
    while True:
        pages.append(rows(response))
        older = response.context["page"].older
        if older is None:
            break
        assert f"before={older.token()}" in response.content.decode()
        response = watched.get(TIMELINE, {"campaign": "00001", "before": older.token()})

    assert [len(page) for page in pages] == [4, 4, 4, 4, 4, 2]
    assert [entry for page in pages for entry in page] == newest_first

    back = []
    while (newer := response.context["page"].newer) is not None:
        response = watched.get(TIMELINE, {"campaign": "00001", "after": newer.token()})
        back.append(rows(response))
    assert back == pages[-2::-1]


def test_no_page_counts_the_rows(watched, trail):
    with CaptureQueriesContext(connection) as queries:
        watched.get(TIMELINE, {"campaign": "00001"})

    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]


@pytest.mark.parametrize("query", [
    {"date_from": "2026-02-30"},
    {"date_from": "yesterday"},
    {"date_from": "0001-01-01"},
    {"date_to": "9999-12-31"},
    {"date_from": "2026-05-01", "date_to": "2026-04-01"},
    {"user": "999999"},
    {"user": "abc"},
    {"user": "-1"},
    {"user": "²"},
    {"user": "99999999999999999999999999"},
    {"campaign": "ZZZZZ"},
    {"campaign": "'; DROP TABLE campaigns_campaign; --"},
    {"campaign": "\x00"},
    {"kind": "import-receipt"},
    {"outcome": "maybe"},
    {"q": "x" * 500},
    {"q": "601\x00234"},
    {"before": "garbage"},
    {"before": "99999999999999999999999.1"},
    {"before": "1.99999999999999999999"},
    {"before": "1.0"},
    {"after": "1.-5"},
    {"after": "1.campaign-change.1"},  # the token of the four tables' timeline
    {"before": "1.1", "after": "1.1"},
])
def test_nonsense_filters_are_marked_invalid_and_show_nothing(watched, trail, query):
    response = watched.get(TIMELINE, query)

    assert response.status_code == 200
    assert response.context["page"] is None
    assert response.context["form"].errors
    assert b'data-testid="invalid-filters"' in response.content


@pytest.mark.parametrize("query", [
    {"q": "' OR 1=1 --"},
    {"q": "<script>alert(1)</script>"},
    {"page": "99999999999999999999"},
    {"before": "0.1"},
    {"after": "99999999999999.1"},
])
def test_odd_but_harmless_input_answers_with_an_empty_or_plain_page(watched, trail, query):
    response = watched.get(TIMELINE, query)

    assert response.status_code == 200
    assert b"<script>alert(1)</script>" not in response.content
    assert response.context["page"] is not None


def test_an_invalid_filter_keeps_what_was_typed_and_marks_the_field(watched, trail):
    response = watched.get(TIMELINE, {"date_from": "2026-02-30", "q": "K-100"})

    text = response.content.decode()
    assert 'value="K-100"' in text
    assert 'class="form-control is-invalid"' in text


@pytest.mark.parametrize("path", [
    "/audit/99999999999999999999999/",
    "/audit/0/",
    "/audit/no-such-kind/1/",
    "/audit/record-addition/0/",
])
def test_unknown_entries_are_not_found(watched, trail, path):
    response = watched.get(path, follow=True)

    assert response.status_code == 404


def test_a_campaign_page_links_to_its_part_of_the_timeline(watched, trail):
    page = watched.get(reverse("campaigns:detail", args=["00002"]))
    assert f'href="{TIMELINE}?campaign=00002"' in page.content.decode()

    response = watched.get(TIMELINE, {"campaign": "00002"})
    assert rows(response) == [trail["pending"], trail["other"]]


def test_every_page_links_to_the_audit_trail(watched, trail):
    page = watched.get(reverse("campaigns:list"))

    assert f'href="{TIMELINE}"' in page.content.decode()


def test_the_four_tables_entry_addresses_are_gone(watched, trail):
    # Their ids were per table; the one log numbers entries afresh, so they lead nowhere.
    for entry in (trail["dialer"], trail["added"]):
        for old in (f"/audit/campaign-change/{entry.pk}/", f"/audit/record-addition/{entry.pk}/",
                    f"/campaigns/changes/{entry.pk}/", f"/records/{entry.pk}/"):
            assert watched.get(old).status_code == 404, old
        assert watched.get(entry.get_absolute_url()).status_code == 200
        assert entry.get_absolute_url() == f"/audit/{entry.pk}/"


def test_an_import_is_found_by_a_file_name_of_any_length_it_may_have(watched, logged_in,
                                                                      campaigns):
    """The search box took 100 characters; a file's name is kept and found up to 255."""
    name = "leady " + "x" * 150 + ".csv"
    job = previewed(logged_in, campaigns["00001"], csv_bytes(people(1)), name=name)
    assert import_confirm(job=job)
    import_cancel(job=ImportJob.objects.get(pk=job.pk))  # ended at once: its receipt

    assert rows(watched.get(TIMELINE, {"q": name})) == [ImportJob.objects.get(pk=job.pk).receipt]


def test_an_entry_completed_the_next_day_shows_the_day_it_was_completed(watched, user,
                                                                        campaigns):
    """"23:59:50 → 00:00:10" read as ending before it began."""
    entry = addition(actor=user, campaign=campaigns["00001"], phone="601234567",
                     outcome="pending", when=at(1, hour=23).replace(minute=59, second=50))
    values = outcome_values(outcome="unknown", detail="interrupted")
    values["completed_at"] = at(2, hour=0).replace(second=10)
    entries_complete([(entry, values)])

    page = watched.get(entry.get_absolute_url()).content.decode()
    assert "→ 2 March 2026 00:00:10" in page


def test_the_hour_the_clocks_repeat_shows_which_of_the_two_it_was(watched, user, campaigns):
    """02:30 happens twice on 25 October 2026, in summer time, then in winter time."""
    summer, winter = (dt.datetime(2026, 10, 25, hour, 30, tzinfo=dt.UTC) for hour in (0, 1))
    for when in (summer, winter):
        change(actor=user, campaign=campaigns["00001"], sent={"order": 1}, when=when)
    change(actor=user, campaign=campaigns["00001"], sent={"order": 2},
           when=dt.datetime(2026, 10, 25, 9, 0, tzinfo=dt.UTC))

    timeline = watched.get(TIMELINE).content.decode()
    assert "2026-10-25 02:30:00 CEST" in timeline and "2026-10-25 02:30:00 CET" in timeline
    assert "2026-10-25 10:00:00<" in timeline  # any other hour as before


@pytest.mark.parametrize("language", ["en", "pl"])
def test_the_action_filter_lists_the_kinds_in_the_order_of_their_labels(client, auditor,  # noqa: F811
                                                                        language):
    """They came in the order of their slugs: in Polish "konto zmienione…" (account) first,
    then "zmieniono ustawienia" (campaign-change), "przeniesiono…" (carried-over)."""
    client.force_login(auditor)

    page = client.get(reverse("audit:timeline"), HTTP_ACCEPT_LANGUAGE=language)

    select = re.search(r'<select name="kind".*?</select>', page.content.decode(), re.S).group(0)
    labels = [unescape(label) for label in re.findall(r'<option value="[^"]+">(.*?)</option>',
                                                      select)]
    assert len(labels) == len(all_kinds())
    assert labels == sorted(labels, key=str.casefold)


def test_the_entries_of_the_portal_s_own_doing_are_found_by_the_user_filter(client, auditor,  # noqa: F811
                                                                           user, campaigns):
    """A campaign found gone from Thulium, an import stopped or cleared by the worker: no
    user made them, and the user filter found none of them."""
    mine = change(actor=user, campaign=campaigns["00001"], sent={"order": 1})
    presence_mark(Campaign.objects.filter(pk=campaigns["00002"].pk), in_thulium=False,
                  actor=None, read_at=database_now())
    gone = Entry.objects.get(kind=THULIUM_PRESENCE.slug)
    client.force_login(auditor)

    found = client.get(reverse("audit:timeline"), {"user": "portal"})
    page = client.get(gone.get_absolute_url()).content.decode()
    export = b"".join(client.get(reverse("audit:export_csv"), {"user": "portal"})
                      .streaming_content).decode()

    assert rows(found) == [gone]
    assert f'href="{reverse("audit:timeline")}?user={"portal"}"' in page
    assert f"\n{THULIUM_PRESENCE.slug};presence in Thulium;{gone.pk};" in export
    assert f"\n{mine.kind};settings changed;{mine.pk};" not in export
    client.force_login(user)  # who sees only their own entries in full
    refused = client.get(reverse("audit:timeline"), {"user": "portal"})
    assert refused.status_code == 200 and refused.context["page"] is None
    assert refused.context["form"].errors["user"]
