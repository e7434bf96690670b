"""Check in Thulium: an addition whose answer was lost is looked up in Thulium's list of the
campaign's records, and the portal then knows whether the number was added."""

import datetime as dt
import threading
from contextlib import nullcontext
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from audit.erasure import forget_number
from audit.models import Entry
from audit.verify import verify_chain
from campaigns.services import campaign_update
from portal.thulium import get_client
from portal.thulium.dates import THULIUM_ZONE, thulium_day
from records import landing, services
from records.landing import landed_by
from records.models import AddedRecord
from records.reconciling import find_all_in_thulium
from records.services import record_add_begin_all, record_checks_begin, record_checks_run
from tests.audit_fixtures import addition, auditor  # noqa: F401
from tests.conftest import LATE, LOADERS, api_calls, make_user, skip_unless_postgresql
from tests.db_threads import closing, connected_pid, until_waiting_for_a_lock_or_done
from tests.test_campaign_form import flashed
from tests.test_faults_in_views import error_box
from tests.test_record_form import DUPLICATE, add, new_url

RECORDS_PATH = "/api/outbounds/00001/records"
FOUND = "Thulium holds this record (id %s): it is now known as added."
NOT_FOUND = "Thulium does not hold this number: it may be added again."
CHECKED = ("There is nothing left to check: this addition's number was checked already or "
           "sent again.")
BEING_CHECKED = ("This addition is being checked in Thulium already: its answer shows here in "
                 "a moment.")
# The portal gives up on a lost addition (a LATE answer) after this: it is certain to.
SHORT_TIMEOUT = 0.3


def lost_addition(client, thulium, record, *, applied=True) -> Entry:
    """Add a record through the form while Thulium's answer is lost, after it stored the
    record (a late answer) or before (a dropped connection)."""
    client.get(new_url())  # statuses and agents now cached: the fault hits the POST
    thulium.state.fail_next("timeout", path=RECORDS_PATH, apply=applied,
                            delay=LATE if applied else 0.1)
    called = len(api_calls(thulium))
    with override_settings(THULIUM_TIMEOUT=SHORT_TIMEOUT) if applied else nullcontext():
        add(client, record)
    assert len(api_calls(thulium)) == called + 1  # the lost POST alone had the short timeout
    assert thulium.state.wait_timed_out()  # stored or not, perhaps after the portal gave up
    entry = Entry.objects.get(kind="record-addition", sent__phone_number=record["phone_number"]
                              .replace(" ", ""))
    assert entry.outcome == "unknown"
    assert AddedRecord.objects.get(entry=entry).status == "unknown"
    return entry


def checked_later(monkeypatch, **delta):
    """The check's clock this much ahead of the real one."""
    real = timezone.now
    monkeypatch.setattr(services, "timezone",
                        SimpleNamespace(now=lambda: real() + dt.timedelta(**delta)))


@pytest.fixture
def later(monkeypatch):
    """The check's clock past the moment a lost call could still land in Thulium (its
    longest time and a margin: a minute and more after it)."""
    checked_later(monkeypatch, minutes=5)


def check_url(entry) -> str:
    return reverse("records:check", args=[entry.pk])


def checks() -> list[Entry]:
    return list(Entry.objects.filter(kind="record-check").order_by("pk"))


def listings(thulium) -> list[dict]:
    """The query of each GET of the campaign's records the sandbox received."""
    return [{name: values[-1] for name, values in parse_qs(urlsplit(call["path"]).query).items()}
            for call in api_calls(thulium, "GET") if call["path"].startswith(RECORDS_PATH)]


def day_listed(sent_at) -> str:
    """The day the records are listed from for a send at `sent_at`: 15 minutes before it
    (records.reconciling.CLOCK_MARGIN), so the day before just after midnight."""
    return thulium_day(sent_at - dt.timedelta(minutes=15)).isoformat()


def day_to_listed(until) -> str:
    """The create_date_to of a check made on a later day than the last the records are
    listed to for sends that could land until `until` (15 minutes after it, so the day after
    just before midnight): the day after that, whether Thulium includes create_date_to's
    day or not (undocumented). A check made on that last day asks none."""
    return (thulium_day(until + dt.timedelta(minutes=15)) + dt.timedelta(days=1)).isoformat()


def others(count: int, start: int = 0) -> list[dict]:
    """Records of other numbers, as someone else put them in Thulium."""
    return [{"phone_number": f"60200{number:04d}"} for number in range(start, start + count)]


# --- the lookup ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_lookup_matches_the_number_in_any_spelling(campaigns, thulium):
    get_client().add_records("00001", [*others(3), {"phone_number": "601234567"}])
    sent_at = timezone.now()
    found = find_all_in_thulium(campaigns["00001"], [{"phone_number": "+48601234567"}],
                                sent_at, until=sent_at)
    assert found == ["234"]
    assert listings(thulium) == [
        {"create_date_from": day_listed(sent_at), "offset": "0", "limit": "100"}]


@pytest.mark.django_db
def test_the_lookup_matches_the_identifier_when_one_was_sent(campaigns, thulium):
    get_client().add_records("00001", [{"phone_number": "601234567", "identifier": "K-1"}])
    found = find_all_in_thulium(campaigns["00001"], [
        {"phone_number": "601234567", "identifier": "K-2"},
        {"phone_number": "601234567", "identifier": "K-1"},
        {"phone_number": "601234567"},
    ], timezone.now(), until=timezone.now())
    # One record answers one payload: the second matched it first.
    assert found == [None, "231", None]


@pytest.mark.django_db
def test_the_lookup_reads_the_last_pages_first_and_only_records_from_the_day_of_the_send(
    campaigns, thulium
):
    thulium.state.set_now(timezone.now() - dt.timedelta(days=2))
    get_client().add_records("00001", others(5, start=1000))  # added before the send
    thulium.state.set_now(None)
    get_client().add_records("00001", [*others(250), {"phone_number": "601234567"},
                                       *others(30, start=500)])
    sent_at = timezone.now()
    found = find_all_in_thulium(campaigns["00001"], [{"phone_number": "601234567"},
                                                     {"phone_number": "602000150"}],
                                sent_at, until=sent_at)
    assert found == [str(231 + 5 + 250), str(231 + 5 + 150)]
    # 281 records of the day: the first page, then back from the last one.
    assert [query["offset"] for query in listings(thulium)] == ["0", "181", "100"]
    assert {query["create_date_from"] for query in listings(thulium)} == {day_listed(sent_at)}


@pytest.mark.django_db
def test_the_lookup_stops_at_a_page_that_began_before_the_send(campaigns, thulium):
    # Noon in Poland: an hour before is the same Polish day, whenever the test runs (the
    # listing asks from the send's day on, so just after midnight it would not be).
    sent_at = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    thulium.state.set_now(sent_at - dt.timedelta(hours=1))
    get_client().add_records("00001", others(300))  # an hour before the send
    thulium.state.set_now(sent_at + dt.timedelta(seconds=1))
    get_client().add_records("00001", others(50, start=1000))
    thulium.state.set_now(None)
    assert find_all_in_thulium(campaigns["00001"], [{"phone_number": "601234567"}],
                               sent_at, until=sent_at) == [None]
    # 350 records: the first page, then the last one, which began an hour before.
    assert [query["offset"] for query in listings(thulium)] == ["0", "250"]


@pytest.mark.django_db
def test_the_lookup_reads_on_through_the_autumn_s_repeated_hour(campaigns, thulium):
    """Sent at 01:05 UTC on 2026-10-25, the second 02:05 in Poland: the page after it starts
    at the second "02:10", which as text came before "02:50" (the send less the margin,
    the first 02:50), so the lookup stopped before the page holding the record."""
    night = dt.datetime(2026, 10, 25, tzinfo=dt.UTC)
    thulium.state.set_now(night + dt.timedelta(minutes=30))
    get_client().add_records("00001", others(150))
    sent_at = night + dt.timedelta(hours=1, minutes=5)
    thulium.state.set_now(sent_at)
    (added,) = get_client().add_records("00001", [{"phone_number": "601234567"}])
    thulium.state.set_now(night + dt.timedelta(hours=1, minutes=10))
    get_client().add_records("00001", others(150, start=1000))
    thulium.state.set_now(None)

    assert find_all_in_thulium(campaigns["00001"], [{"phone_number": "601234567"}],
                               sent_at, until=sent_at) == [added.record_id]
    assert [query["offset"] for query in listings(thulium)] == ["0", "201", "101"]


@pytest.mark.django_db
def test_the_lookup_stops_at_a_page_holding_a_record_thulium_added_before_the_send(
    campaigns, thulium
):
    get_client().add_records("00001", others(300))
    *_, answered = get_client().add_records("00001", others(20, start=1000))
    get_client().add_records("00001", [*others(50, start=2000), {"phone_number": "601234567"}])
    found = find_all_in_thulium(campaigns["00001"], [{"phone_number": "601234567"},
                                                     {"phone_number": "609999999"}],
                                timezone.now(), until=timezone.now(),
                                applied_before={answered.record_id})
    assert found == [str(231 + 370), None]
    # 371 records: the first page, then the last one, which holds the record answered
    # before the send: the one sent cannot be further back (nor at 171 and 100).
    assert [query["offset"] for query in listings(thulium)] == ["0", "271"]


@pytest.mark.django_db
def test_a_record_thulium_dated_the_day_before_the_send_is_found(campaigns, thulium):
    # Sent at 00:05 in Poland; Thulium's clock, ten minutes behind, dated it the day before.
    sent_at = timezone.localtime().replace(hour=0, minute=5, second=0, microsecond=0)
    thulium.state.set_now(sent_at - dt.timedelta(minutes=10))
    (added,) = get_client().add_records("00001", [{"phone_number": "601234567"}])
    thulium.state.set_now(None)
    assert find_all_in_thulium(campaigns["00001"], [{"phone_number": "601234567"}],
                               sent_at, until=sent_at) == [added.record_id]


@pytest.mark.django_db
def test_the_lookup_stops_when_every_page_is_read(campaigns, thulium):
    get_client().add_records("00001", others(200))
    assert find_all_in_thulium(campaigns["00001"], [{"phone_number": "601234567"}],
                               timezone.now(), until=timezone.now()) == [None]
    assert [query["offset"] for query in listings(thulium)] == ["0", "100"]


# --- checking a lost answer from its entry's page ------------------------------------------


def test_the_page_after_a_lost_answer_says_so_once_and_leads_to_the_check(
    logged_in, campaigns, thulium
):
    """It said "Thulium did not confirm the request: Thulium did not confirm the request (...)"
    and to check in Thulium, without saying where."""
    logged_in.get(new_url())
    thulium.state.fail_next("timeout", path=RECORDS_PATH, apply=False, delay=0.1)

    response = add(logged_in, {"phone_number": "601234567"})

    lost = Entry.objects.get(kind="record-addition")
    box = " ".join(error_box(response.content.decode()).split())
    assert box.count("did not confirm") == 1
    assert box.startswith(f"<p class=\"mb-1\">Thulium did not confirm the request "
                          f"({lost.detail.splitlines()[0]}): it may have added the record. "
                          f'Before sending it again, <a href="{lost.get_absolute_url()}">'
                          "check in Thulium</a> from the addition's audit entry.</p>")
    assert 'value="601234567"' in response.content.decode()


def test_a_check_just_after_midnight_records_the_day_it_lists_from(
    later, logged_in, user, campaigns, thulium
):
    """The check's entry said the day of the send, while the listing began the day before
    (in the quarter of an hour after midnight, for Thulium's clock): the audit trail did
    not say what was asked."""
    lost = lost_addition(logged_in, thulium, {"phone_number": "601 234 567"})
    sent_at = dt.datetime(2026, 12, 5, 0, 5, tzinfo=THULIUM_ZONE)

    (check,) = record_checks_begin([lost], since=sent_at, until=sent_at, actor=user)
    record_checks_run([check], since=sent_at, until=sent_at)

    assert [query["create_date_from"] for query in listings(thulium)] == ["2026-12-04"]
    assert check.sent["create_date_from"] == "2026-12-04"


def test_a_lost_answer_thulium_applied_is_found_and_the_number_known_as_added(
    later, logged_in, user, campaigns, thulium
):
    lost = lost_addition(logged_in, thulium, {"phone_number": "601 234 567",
                                              "identifier": "K-1"})
    page = logged_in.get(lost.get_absolute_url()).content.decode()
    assert f'action="{check_url(lost)}"' in page and "Check in Thulium" in page

    response = logged_in.post(check_url(lost))

    assert response.status_code == 302 and response.url == lost.get_absolute_url()
    assert flashed(response) == [FOUND % 231]
    added = AddedRecord.objects.get()
    assert (added.status, added.record_id, added.entry) == ("added", "231", lost)
    (check,) = checks()
    assert (check.related, check.actor, check.campaign, check.outcome) == (
        lost, user, campaigns["00001"], "succeeded")
    # What was asked, exactly: the listing's days, from the send's (no record is later than
    # the day the lost call could have landed on, today's).
    days = {"create_date_from": day_listed(lost.created_at)}
    assert check.sent == {"campaign": "00001", "phone_number": "601234567", "identifier": "K-1",
                          **days}
    assert check.results == {"found": True, "record_id": "231"}
    assert listings(thulium) == [{**days, "offset": "0", "limit": "100"}]
    # The checked entry is history: it still says what was known then.
    assert Entry.objects.get(pk=lost.pk).outcome == "unknown"
    assert Entry.objects.get(pk=lost.pk).complete_hash == lost.complete_hash
    page = logged_in.get(lost.get_absolute_url()).content.decode()
    assert "is held (record id 231)" in page and check.get_absolute_url() in page
    assert check_url(lost) not in page
    check_page = logged_in.get(check.get_absolute_url()).content.decode()
    assert lost.get_absolute_url() in check_page and "record id <code>231</code>" in check_page
    # Known as added: the number is refused before anything is sent.
    assert DUPLICATE in add(logged_in, {"phone_number": "+48 601 234 567"}).content.decode()
    assert len(api_calls(thulium, "POST")) == 1
    assert verify_chain().problem == ""


@pytest.mark.parametrize("days_later", [0, 2])
def test_a_check_s_page_says_what_was_asked_and_looked_for_not_a_change_sent(
    monkeypatch, logged_in, user, campaigns, thulium, days_later
):
    """It showed a change table and "Sent to Thulium, exactly" with what was looked for,
    while the call was a GET of the campaign's records."""
    lost = addition(actor=user, campaign=campaigns["00001"], phone="601234567",
                    identifier="K-1", outcome="unknown")
    checked_later(monkeypatch, days=days_later)
    (check,) = record_checks_begin([lost], since=lost.created_at, until=lost.created_at,
                                   actor=user)
    record_checks_run([check], since=lost.created_at, until=lost.created_at)

    page = " ".join(logged_in.get(check.get_absolute_url()).content.decode().split())

    day = check.sent["create_date_from"]
    if days_later:
        last = check.sent["create_date_to"]
        assert (f"the campaign's records added from {day} to {last}, page by page: <code>GET "
                f"outbounds/00001/records?create_date_from={day}&amp;create_date_to={last}"
                "</code>") in page
    else:
        assert (f"the campaign's records added from {day} on, page by page: <code>GET "
                f"outbounds/00001/records?create_date_from={day}</code>") in page
    assert "a record with the phone number 601234567 and the identifier K-1" in page
    assert "Thulium does not hold it." in page
    assert "Change, field by field" not in page and "Sent to Thulium, exactly" not in page
    assert "Thulium's answer" in page


def test_a_lost_answer_thulium_never_applied_frees_the_number_to_be_added_again(
    later, logged_in, campaigns, thulium
):
    lost = lost_addition(logged_in, thulium, {"phone_number": "601234567"}, applied=False)

    response = logged_in.post(check_url(lost))

    assert flashed(response) == [NOT_FOUND]
    assert not AddedRecord.objects.exists()
    (check,) = checks()
    assert (check.outcome, check.results) == ("succeeded", {"found": False})
    assert len(api_calls(thulium, "POST")) == 1  # nothing was sent again by the check
    page = logged_in.get(lost.get_absolute_url()).content.decode()
    assert "is not held" in page and check_url(lost) not in page
    response = add(logged_in, {"phone_number": "601234567"})
    assert response.status_code == 302
    assert AddedRecord.objects.get().status == "added"
    assert [r["phone_number"] for r in thulium.state.records("00001")] == ["601234567"]
    assert verify_chain().problem == ""


def test_an_addition_cut_off_before_its_answer_was_recorded_can_be_checked(
    logged_in, user, campaigns, thulium
):
    """Its web process stopped mid-send (a deploy, a crash): the number stayed "being sent"
    for good, refused by the form, and nothing could check it."""
    (cut,) = record_add_begin_all(
        campaign=campaigns["00001"], payloads=[{"phone_number": "601234567"}], actor=user,
        created_at=timezone.now() - dt.timedelta(hours=1), portal_request_id="stopped")
    (recent,) = record_add_begin_all(
        campaign=campaigns["00001"], payloads=[{"phone_number": "601234568"}], actor=user,
        portal_request_id="still-sending")
    assert DUPLICATE in add(logged_in, {"phone_number": "601234567"}).content.decode()
    assert check_url(recent) not in logged_in.get(recent.get_absolute_url()).content.decode()
    assert check_url(cut) in logged_in.get(cut.get_absolute_url()).content.decode()

    response = logged_in.post(check_url(cut))

    assert flashed(response) == [NOT_FOUND]
    cut.refresh_from_db()
    assert cut.outcome == "unknown"
    assert add(logged_in, {"phone_number": "601234567"}).status_code == 302
    assert verify_chain().problem == ""


def test_a_check_while_the_lost_call_could_still_land_is_refused_until_it_cannot(
    logged_in, campaigns, thulium
):
    """Thulium may store a record after the portal stopped waiting: not found at once, the
    number would be freed, and the person added twice. The check waits for the call's
    longest time and a margin."""
    lost = lost_addition(logged_in, thulium, {"phone_number": "601234567"}, applied=False)
    thulium.state.received_forget()

    response = logged_in.post(check_url(lost))

    (said,) = flashed(response)
    assert said.startswith("Thulium may still be adding this record") and "after" in said
    assert api_calls(thulium) == [] and checks() == []
    assert AddedRecord.objects.get().status == "unknown"  # the number still blocked


def test_the_record_sent_is_found_on_a_later_page(later, logged_in, campaigns, thulium):
    get_client().add_records("00001", others(150))
    lost = lost_addition(logged_in, thulium, {"phone_number": "601234567"})

    response = logged_in.post(check_url(lost))

    assert flashed(response) == [FOUND % (231 + 150)]
    assert AddedRecord.objects.get().record_id == str(231 + 150)
    assert [query["offset"] for query in listings(thulium)] == ["0", "100"]


def test_a_check_days_later_lists_only_the_days_the_record_could_have_landed_on(
    monkeypatch, logged_in, campaigns, thulium
):
    """It listed every record the campaign gained since the send, from the last page back:
    after days of imports, hundreds of pages, past the web server's timeout."""
    get_client().add_records("00001", others(150))
    lost = lost_addition(logged_in, thulium, {"phone_number": "601234567"})
    checked_later(monkeypatch, days=4)
    # After the day after the last one listed, even just before midnight.
    thulium.state.set_now(timezone.now() + dt.timedelta(days=3))
    get_client().add_records("00001", others(1000, start=1000))
    thulium.state.set_now(None)
    thulium.state.received_forget()

    response = logged_in.post(check_url(lost))

    assert flashed(response) == [FOUND % (231 + 150)]
    # The 151 records of the send's day: the first page, then the last one.
    assert listings(thulium) == [
        {"create_date_from": day_listed(lost.created_at),
         "create_date_to": day_to_listed(landed_by(lost)), "offset": offset, "limit": "100"}
        for offset in ("0", "100")]


def test_a_lost_answer_is_found_when_thulium_leaves_create_date_to_s_day_out(
    later, logged_in, campaigns, thulium
):
    """Undocumented: whether create_date_to includes its day. Asked up to the day the lost
    call could land on, a Thulium leaving that day out never listed the record, and the
    number was freed to be sent again (then refused as already in Thulium)."""
    thulium.state.date_to_exclusive = True
    lost = lost_addition(logged_in, thulium, {"phone_number": "601234567"})

    response = logged_in.post(check_url(lost))

    assert flashed(response) == [FOUND % 231]
    assert AddedRecord.objects.get().status == "added"
    # Nothing is later than today: no last day is asked.
    assert [query.get("create_date_to") for query in listings(thulium)] == [None]


def test_a_check_days_later_finds_the_record_when_thulium_leaves_create_date_to_s_day_out(
    monkeypatch, logged_in, campaigns, thulium
):
    thulium.state.date_to_exclusive = True
    lost = lost_addition(logged_in, thulium, {"phone_number": "601234567"})
    checked_later(monkeypatch, days=2)

    response = logged_in.post(check_url(lost))

    assert flashed(response) == [FOUND % 231]
    (check,) = checks()
    # Under either reading the last day the call could land on is listed; the entry says
    # what was asked.
    assert check.sent["create_date_to"] == day_to_listed(landed_by(lost))
    assert [query["create_date_to"] for query in listings(thulium)] == [
        check.sent["create_date_to"]]


@pytest.mark.parametrize("fail, outcome, words, thulium_answered", [
    # A proxy's page: no words nor request_id of Thulium's.
    (lambda state: state.fail_next("http_503", path=RECORDS_PATH), "failed",
     "Thulium did not answer properly. Try again later. (HTTP 503)", False),
    (lambda state: state.refuse("GET", "outbounds/*/records"), "failed",
     "You have no permission to use this API method.", True),
    (lambda state: state.fail_next("refuse", path=RECORDS_PATH), "refused",
     "Sandbox: refused on request.", True),
], ids=["503", "no-permission", "refused"])
def test_when_thulium_fails_the_check_says_so_and_nothing_else_changes(
    later, logged_in, campaigns, thulium, fail, outcome, words, thulium_answered
):
    lost = lost_addition(logged_in, thulium, {"phone_number": "601234567"})
    fail(thulium.state)

    response = logged_in.post(check_url(lost))

    assert response.status_code == 302 and response.url == lost.get_absolute_url()
    (check,) = checks()
    assert check.outcome == outcome
    expected = f"Could not check in Thulium: {words}"
    if check.request_id:
        expected += f" (Thulium request_id: {check.request_id})"
    assert flashed(response) == [expected]
    assert bool(check.request_id) is thulium_answered
    added = AddedRecord.objects.get()
    assert (added.status, added.record_id, added.entry) == ("unknown", "", lost)
    # Still to be checked: the button stays for another try.
    assert check_url(lost) in logged_in.get(lost.get_absolute_url()).content.decode()
    assert verify_chain().problem == ""


def test_a_failed_check_s_detail_names_the_http_status_once(later, logged_in, campaigns,
                                                              thulium):
    """The listing's page is not kept (other people's records): its place said "HTTP 500"
    a second time."""
    lost = lost_addition(logged_in, thulium, {"phone_number": "601234567"})
    thulium.state.fail_next("http_500", path=RECORDS_PATH)

    logged_in.post(check_url(lost))

    (check,) = checks()
    assert (check.outcome, check.http_status, check.detail) == ("failed", 500, "HTTP 500")


HELD_WITHOUT_ID = ("Thulium holds this number but listed its record without a record id: it "
                   "is now known as added, and will not be sent again.")


@pytest.mark.parametrize("form", ["empty", "null", "absent"])
def test_a_record_thulium_lists_without_its_id_is_known_as_added_and_never_sent_again(
    later, logged_in, campaigns, thulium, form
):
    """The check failed ("it listed a record looked for without its record_id") and the
    addition stayed unknown, to be checked again, each time finding the same."""
    lost = lost_addition(logged_in, thulium, {"phone_number": "601234567"})
    thulium.state.list_without_id(["601234567"], form=form)

    response = logged_in.post(check_url(lost))

    assert response.status_code == 302 and flashed(response) == [HELD_WITHOUT_ID]
    (check,) = checks()
    assert (check.outcome, check.results, check.detail) == (
        "succeeded", {"found": True}, services.LISTED_WITHOUT_ID)
    added = AddedRecord.objects.get()
    assert (added.status, added.record_id, added.entry) == ("added", "", lost)
    page = logged_in.get(lost.get_absolute_url()).content.decode()
    assert "601234567 is held (listed without a record id)" in page
    assert check_url(lost) not in page
    check_page = logged_in.get(check.get_absolute_url()).content.decode()
    assert "Thulium holds it, but listed it without its record_id." in check_page
    assert escape(services.LISTED_WITHOUT_ID) in check_page
    # Known as added: the number is refused before anything is sent.
    thulium.state.received_forget()
    assert DUPLICATE in add(logged_in, {"phone_number": "601234567"}).content.decode()
    assert api_calls(thulium, "POST") == []
    assert verify_chain().problem == ""


# --- who may check what, and when ---------------------------------------------------------


def test_a_second_check_is_refused_with_a_clear_message(later, logged_in, user, campaigns,
                                                        thulium):
    lost = addition(actor=user, campaign=campaigns["00001"], phone="601234567",
                    outcome="unknown")
    logged_in.post(check_url(lost), follow=True)  # its message shown
    assert listings(thulium) and not AddedRecord.objects.exists()
    thulium.state.reset()

    response = logged_in.post(check_url(lost))

    assert response.status_code == 302 and flashed(response) == [CHECKED]
    assert len(checks()) == 1
    assert api_calls(thulium) == []


def _lost_minutes_ago(user, campaigns) -> Entry:
    """An addition whose answer was lost long enough ago to be checked (on the real clock,
    which tells a check under way from one cut off)."""
    return addition(actor=user, campaign=campaigns["00001"], phone="601234567",
                    outcome="unknown", when=timezone.now() - dt.timedelta(minutes=5))


def test_a_check_pressed_while_another_is_under_way_is_refused_until_that_one_was_cut_off(
        logged_in, user, campaigns, thulium, monkeypatch):
    """Pressed again (another tab), Thulium was asked once more and the addition had two
    checks; a check cut off (its process stopped) stops none for good."""
    lost = _lost_minutes_ago(user, campaigns)
    (under_way,) = record_checks_begin([lost], since=lost.created_at, until=landed_by(lost),
                                       actor=user)  # another page's, waiting for Thulium

    page = logged_in.post(check_url(lost), follow=True).content.decode()

    assert BEING_CHECKED in page
    assert checks() == [under_way] and api_calls(thulium) == []
    monkeypatch.setattr(landing, "timezone", SimpleNamespace(
        now=lambda: landed_by(under_way) + dt.timedelta(seconds=1)))
    assert flashed(logged_in.post(check_url(lost))) == [NOT_FOUND]
    assert len(checks()) == 2


@pytest.mark.django_db(transaction=True)
def test_a_check_pressed_twice_at_once_asks_thulium_once(user, campaigns, thulium,
                                                         monkeypatch):
    """The second waits for the first's lock of the record, then finds its check pending.
    It found the record still unknown, and listed Thulium's records a second time."""
    skip_unless_postgresql(connection)
    lost = _lost_minutes_ago(user, campaigns)
    begun, go_on = threading.Event(), threading.Event()
    begin, find = services.record_checks_begin, services.find_all_in_thulium

    def paused_before_its_commit(*args, **kwargs):
        checks_begun = begin(*args, **kwargs)
        if threading.current_thread().name == "first":
            begun.set()
            go_on.wait(30)
        return checks_begun

    asked = []

    def listing(*args, **kwargs):
        asked.append(threading.current_thread().name)
        return find(*args, **kwargs)

    monkeypatch.setattr(services, "record_checks_begin", paused_before_its_commit)
    monkeypatch.setattr(services, "find_all_in_thulium", listing)
    failures, said, second_pid = [], {}, []

    def pressed(name):
        def run():
            if name == "second":
                second_pid.append(connected_pid())
            try:
                said[name] = services.record_check(Entry.objects.get(pk=lost.pk), actor=user)
            except services.RecordCheckRefused as refusal:
                said[name] = str(refusal)
        return threading.Thread(target=closing(run, failures), name=name)

    first, second = pressed("first"), pressed("second")
    first.start()
    assert begun.wait(30)
    second.start()
    until_waiting_for_a_lock_or_done(second, second_pid)
    go_on.set()
    first.join(60)
    second.join(60)

    assert failures == []
    assert (asked, said["second"]) == (["first"], BEING_CHECKED)
    assert checks() == [said["first"]]


def test_a_check_posted_from_a_page_opened_before_an_erasure_says_the_number_was_erased(
    later, logged_in, user, campaigns, thulium
):
    lost = addition(actor=user, campaign=campaigns["00001"], phone="601234567",
                    outcome="unknown")
    assert check_url(lost) in logged_in.get(lost.get_absolute_url()).content.decode()
    forget_number(number="601234567", reference="RODO-1")
    thulium.state.reset()

    response = logged_in.post(check_url(lost))

    assert flashed(response) == [
        "There is nothing left to check: this addition's number was erased."]
    assert checks() == [] and api_calls(thulium) == []


def test_an_addition_whose_outcome_is_known_has_no_button_and_cannot_be_checked(
    logged_in, user, campaigns, thulium
):
    added = addition(actor=user, campaign=campaigns["00001"], phone="601234567",
                     record_id="231")
    assert "Check in Thulium" not in logged_in.get(added.get_absolute_url()).content.decode()

    response = logged_in.post(check_url(added))

    assert flashed(response) == [
        "Only an addition whose outcome is unknown can be checked in Thulium."]
    assert checks() == [] and api_calls(thulium) == []
    assert AddedRecord.objects.get().status == "added"


def test_an_entry_that_is_no_addition_cannot_be_checked(logged_in, user, campaigns, thulium):
    change = campaign_update(campaign=campaigns["00001"], changes={"order": 3}, actor=user)
    thulium.state.reset()

    response = logged_in.post(check_url(change))

    assert response.status_code == 302 and response.url == change.get_absolute_url()
    assert flashed(response) == ["Only a record addition can be checked in Thulium."]
    assert checks() == [] and api_calls(thulium) == []


def test_a_user_who_may_not_add_records_sees_no_button_and_is_refused(
    client, user, campaigns, thulium, auditor  # noqa: F811
):
    lost = addition(actor=user, campaign=campaigns["00001"], phone="601234567",
                    outcome="unknown")
    client.force_login(auditor)  # sees every entry, adds no records
    page = client.get(lost.get_absolute_url())
    assert page.status_code == 200 and "Check in Thulium" not in page.content.decode()

    assert client.post(check_url(lost)).status_code == 403
    assert checks() == [] and api_calls(thulium) == []
    assert AddedRecord.objects.get().status == "unknown"


def test_a_loader_may_not_check_another_users_addition(client, user, campaigns, thulium):
    lost = addition(actor=user, campaign=campaigns["00001"], phone="601234567",
                    outcome="unknown")
    client.force_login(make_user("other-loader", LOADERS))

    assert client.post(check_url(lost)).status_code == 403
    assert checks() == [] and api_calls(thulium) == []


def test_the_check_answers_only_a_post_about_an_entry_that_exists(logged_in, user, campaigns):
    lost = addition(actor=user, campaign=campaigns["00001"], phone="601234567",
                    outcome="unknown")
    assert logged_in.get(check_url(lost)).status_code == 405
    assert logged_in.post(reverse("records:check", args=[lost.pk + 1000])).status_code == 404
    assert logged_in.post(reverse("records:check", args=[2**70])).status_code == 404
    assert checks() == []
