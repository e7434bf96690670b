"""A record addition whose web page died in the middle of its POST to Thulium: the worker's
sweep checks it in Thulium as Check in Thulium does, never sending it again."""

import datetime

import pytest
from django.db import connection
from django.urls import reverse

import records.unanswered as unanswered_module
from audit.models import Entry, Outcome
from audit.recording import WORKER
from portal.request_id import set_current_request_id
from portal.shown_times import shown_day_minute
from portal.thulium import ThuliumClient
from portal.thulium.unreachable import UNREACHABLE_WAIT
from records.entries import RECORD_ADDITION, RECORD_CHECK
from records.models import AddedRecord
from records.services import CUT_OFF, added_values, record_add_begin_all, record_add_complete_all
from records.unanswered import unanswered_additions_check
from tests.conftest import api_calls, skip_unless_postgresql
from tests.test_campaign_form import flashed
from tests.test_record_form import DUPLICATE, add
from tests.test_unanswered_changes import (
    ProcessKilled,
    begun_long_ago,
    swept_during_the_call,
    two_workers_sweeping,
)

NUMBER = "601234567"
OTHER_NUMBER = "601234568"
HOUR = datetime.timedelta(hours=1)
LISTING = "/api/outbounds/00001/records"
ASKED_AGAIN = 'data-testid="asked-again"'


def killed_in_the_post(monkeypatch, *, applied: bool) -> None:
    """Make the POST kill the page's process, after Thulium stored the record if `applied`."""
    post = ThuliumClient.add_record

    def post_then_die(self, campaign_id, record):
        if applied:
            post(self, campaign_id, record)
        raise ProcessKilled

    monkeypatch.setattr(ThuliumClient, "add_record", post_then_die)


def added_by_a_dead_page(client, monkeypatch, *, applied: bool = True, aged: bool = True,
                         number: str = NUMBER, ago: datetime.timedelta = HOUR) -> Entry:
    """The pending entry a page killed in its POST of `number` left (`ago`, if `aged`)."""
    if aged:
        begun_long_ago(monkeypatch, ago)
    killed_in_the_post(monkeypatch, applied=applied)
    with pytest.raises(ProcessKilled):
        add(client, {"phone_number": number})
    # The dead request never finished: its id, left current, is no sweep's (nor the next
    # test's).
    set_current_request_id("")
    monkeypatch.undo()
    entry = Entry.objects.get(kind=RECORD_ADDITION.slug, outcome=Outcome.PENDING,
                              sent__phone_number=number)
    assert entry.portal_request_id
    assert AddedRecord.objects.get(entry=entry).status == AddedRecord.Status.SENDING
    return entry


def the_check() -> Entry:
    return Entry.objects.get(kind=RECORD_CHECK.slug)


def check_url(entry) -> str:
    return reverse("records:check", args=[entry.pk])


def test_an_addition_younger_than_its_call_could_last_is_left_to_its_page(
        logged_in, campaigns, thulium, monkeypatch):
    pending = added_by_a_dead_page(logged_in, monkeypatch, aged=False)

    assert unanswered_additions_check() == []

    pending.refresh_from_db()
    assert pending.outcome == Outcome.PENDING
    assert not Entry.objects.filter(kind=RECORD_CHECK.slug).exists()


def test_an_addition_whose_page_died_after_thulium_stored_it_is_known_as_added(
        logged_in, campaigns, thulium, monkeypatch):
    pending = added_by_a_dead_page(logged_in, monkeypatch, applied=True)
    (held,) = thulium.state.records("00001")

    assert unanswered_additions_check() == [pending.pk]

    pending.refresh_from_db()
    assert (pending.outcome, pending.detail) == (Outcome.UNKNOWN, CUT_OFF)
    check = the_check()
    assert (check.related, check.actor, check.actor_username) == (pending, None, WORKER)
    assert check.results == {"found": True, "record_id": str(held["record_id"])}
    record = AddedRecord.objects.get()
    assert (record.status, record.record_id) == (AddedRecord.Status.ADDED,
                                                 str(held["record_id"]))
    assert len(api_calls(thulium, "POST")) == 1  # never sent again
    assert check_url(pending) not in logged_in.get(pending.get_absolute_url()).content.decode()
    assert DUPLICATE in add(logged_in, {"phone_number": NUMBER}).content.decode()
    assert unanswered_additions_check() == []


def test_an_addition_whose_page_died_before_thulium_stored_it_frees_its_number(
        logged_in, campaigns, thulium, monkeypatch):
    pending = added_by_a_dead_page(logged_in, monkeypatch, applied=False)
    assert DUPLICATE in add(logged_in, {"phone_number": NUMBER}).content.decode()

    assert unanswered_additions_check() == [pending.pk]

    pending.refresh_from_db()
    assert (pending.outcome, pending.detail) == (Outcome.UNKNOWN, CUT_OFF)
    assert the_check().results == {"found": False}
    assert not AddedRecord.objects.exists()
    assert api_calls(thulium, "POST") == []
    assert add(logged_in, {"phone_number": NUMBER}).status_code == 302
    assert AddedRecord.objects.get().status == AddedRecord.Status.ADDED


def test_an_addition_thulium_cannot_tell_of_stays_unknown_with_its_check_offered(
        logged_in, campaigns, thulium, monkeypatch):
    pending = added_by_a_dead_page(logged_in, monkeypatch)
    thulium.state.fail_next("http_503", path=LISTING, method="GET")

    assert unanswered_additions_check() == [pending.pk]

    pending.refresh_from_db()
    assert (pending.outcome, pending.detail) == (Outcome.UNKNOWN, CUT_OFF)
    assert the_check().outcome == Outcome.FAILED
    assert AddedRecord.objects.get().status == AddedRecord.Status.UNKNOWN
    assert check_url(pending) in logged_in.get(pending.get_absolute_url()).content.decode()
    assert len(api_calls(thulium, "POST")) == 1
    assert unanswered_additions_check() == []


def swept_unanswered(monkeypatch, thulium, *, ago: datetime.timedelta) -> list[int]:
    """A sweep whose check Thulium gives no answer to (a 503), its entry written `ago`."""
    thulium.state.fail_next("http_503", path=LISTING, method="GET")
    begun_long_ago(monkeypatch, ago)
    swept = unanswered_additions_check()
    monkeypatch.undo()
    return swept


def checks_of(addition: Entry) -> list[Entry]:
    return list(Entry.objects.filter(kind=RECORD_CHECK.slug, related=addition).order_by("pk"))


def test_a_check_thulium_gave_no_answer_to_is_asked_again_once_as_long_has_passed(
        logged_in, campaigns, thulium, monkeypatch):
    """Each wait is as long as the addition had waited at the check before it: begun three
    hours ago and checked two hours after, an hour ago, it waits an hour more; checked an
    hour after, two hours ago, it is asked now."""
    waiting = added_by_a_dead_page(logged_in, monkeypatch, ago=3 * HOUR)
    assert swept_unanswered(monkeypatch, thulium, ago=HOUR) == [waiting.pk]
    due = added_by_a_dead_page(logged_in, monkeypatch, number=OTHER_NUMBER, ago=3 * HOUR)
    assert swept_unanswered(monkeypatch, thulium, ago=2 * HOUR) == [due.pk]
    (held,) = [record for record in thulium.state.records("00001")
               if record["phone_number"] == OTHER_NUMBER]
    asked = len(api_calls(thulium, "GET"))

    assert unanswered_additions_check() == [due.pk]

    assert len(api_calls(thulium, "GET")) == asked + 1
    failed, found = checks_of(due)
    assert failed.outcome == Outcome.FAILED
    assert (found.outcome, found.actor_username) == (Outcome.SUCCEEDED, WORKER)
    assert found.results == {"found": True, "record_id": str(held["record_id"])}
    record = AddedRecord.objects.get(entry=due)
    assert (record.status, record.record_id) == (AddedRecord.Status.ADDED,
                                                 str(held["record_id"]))
    assert [check.outcome for check in checks_of(waiting)] == [Outcome.FAILED]
    assert AddedRecord.objects.get(entry=waiting).status == AddedRecord.Status.UNKNOWN
    assert len(api_calls(thulium, "POST")) == 2  # never sent again
    assert unanswered_additions_check() == []


def test_past_a_day_an_addition_thulium_gives_no_answer_of_is_left_to_its_button(
        logged_in, campaigns, thulium, monkeypatch):
    """Checked 16 hours after it began, it would wait as long again; at the day's end
    (UNREACHABLE_WAIT) it is asked once more, and never again after."""
    pending = added_by_a_dead_page(logged_in, monkeypatch, ago=UNREACHABLE_WAIT + 2 * HOUR)
    assert swept_unanswered(monkeypatch, thulium, ago=10 * HOUR) == [pending.pk]

    assert swept_unanswered(monkeypatch, thulium, ago=datetime.timedelta()) == [pending.pk]

    asked = len(api_calls(thulium, "GET"))
    assert unanswered_additions_check() == []
    assert len(api_calls(thulium, "GET")) == asked
    assert [check.outcome for check in checks_of(pending)] == [Outcome.FAILED] * 2
    assert AddedRecord.objects.get().status == AddedRecord.Status.UNKNOWN
    assert check_url(pending) in logged_in.get(pending.get_absolute_url()).content.decode()


@pytest.mark.parametrize("begun, checked", [(3 * HOUR, HOUR), (20 * HOUR, 4 * HOUR)],
                         ids=["wait-doubled", "last-at-the-day-s-end"])
def test_the_page_of_an_addition_thulium_gave_no_answer_of_says_when_it_is_asked_again(
        logged_in, campaigns, thulium, monkeypatch, begun, checked):
    """It offered Check in Thulium with no word of the sweep, which one pressed again and
    again, or gave up on. Begun three hours ago and checked two hours after, it is asked
    next two hours after that check; begun 20 hours ago and checked 16 hours after, at the
    day's end, sooner than 16 hours after."""
    addition = added_by_a_dead_page(logged_in, monkeypatch, ago=begun)
    assert swept_unanswered(monkeypatch, thulium, ago=checked) == [addition.pk]
    (check,) = checks_of(addition)

    page = logged_in.get(addition.get_absolute_url()).content.decode()

    until = addition.created_at + UNREACHABLE_WAIT
    next_at = min(check.created_at + (check.created_at - addition.created_at), until)
    said = page.split(ASKED_AGAIN)[1].split("</div>")[0]
    assert (f"Thulium gave no answer to the last check. The portal asks it again by itself, "
            f"next at about {shown_day_minute(next_at)}, until {shown_day_minute(until)}; "
            f"you may also check now.") in said
    assert check_url(addition) in page


def test_the_page_of_an_addition_whose_check_is_overdue_says_it_is_asked_at_the_next_round(
        logged_in, campaigns, thulium, monkeypatch):
    """Begun three hours ago and checked an hour after, it was due an hour ago: with the
    worker overdue or down, the page gave that past time as the next check's."""
    addition = added_by_a_dead_page(logged_in, monkeypatch, ago=3 * HOUR)
    assert swept_unanswered(monkeypatch, thulium, ago=2 * HOUR) == [addition.pk]

    page = logged_in.get(addition.get_absolute_url()).content.decode()

    said = page.split(ASKED_AGAIN)[1].split("</div>")[0]
    until = shown_day_minute(addition.created_at + UNREACHABLE_WAIT)
    assert (f"Thulium gave no answer to the last check. The portal asks it again by itself "
            f"at its worker's next round, until {until}; you may also check now.") in said
    assert "next at about" not in said
    assert check_url(addition) in page


def test_past_a_day_the_page_of_an_addition_thulium_gave_no_answer_of_leaves_it_to_its_button(
        logged_in, campaigns, thulium, monkeypatch):
    """The sweep asks it once more at the day's end, and never again after: the page says
    nothing of it, before that check nor after."""
    addition = added_by_a_dead_page(logged_in, monkeypatch, ago=UNREACHABLE_WAIT + 2 * HOUR)
    assert swept_unanswered(monkeypatch, thulium, ago=10 * HOUR) == [addition.pk]
    before_the_last = logged_in.get(addition.get_absolute_url()).content.decode()
    assert swept_unanswered(monkeypatch, thulium, ago=datetime.timedelta()) == [addition.pk]

    page = logged_in.get(addition.get_absolute_url()).content.decode()

    assert check_url(addition) in before_the_last and check_url(addition) in page
    assert ASKED_AGAIN not in before_the_last + page


def test_the_page_of_an_addition_never_checked_says_nothing_of_asking_again(
        logged_in, campaigns, thulium, monkeypatch):
    pending = added_by_a_dead_page(logged_in, monkeypatch)

    page = logged_in.get(pending.get_absolute_url()).content.decode()

    assert check_url(pending) in page
    assert ASKED_AGAIN not in page


def test_an_imports_addition_is_left_to_its_worker(user, campaigns, thulium, monkeypatch):
    begun_long_ago(monkeypatch)
    record_add_begin_all(campaign=campaigns["00001"], payloads=[{"phone_number": NUMBER}],
                         actor=user)

    assert unanswered_additions_check() == []


def test_a_slow_page_answered_after_the_sweep_gives_way_to_it(logged_in, campaigns, thulium,
                                                               monkeypatch):
    """The page was slow, not dead: its call outlived its longest time, Thulium stored the
    record, the worker took the call for a dead page's and checked it, and only then did
    the answer come back."""
    swept_during_the_call(monkeypatch, "add_record", unanswered_additions_check)

    response = add(logged_in, {"phone_number": NUMBER})

    addition = Entry.objects.get(kind=RECORD_ADDITION.slug)
    assert (response.status_code, response.url) == (302, addition.get_absolute_url())
    assert flashed(response)[0].startswith("Thulium answered so late")
    assert (addition.outcome, addition.detail) == (Outcome.UNKNOWN, CUT_OFF)
    (held,) = thulium.state.records("00001")
    record = AddedRecord.objects.get()
    assert (record.status, record.record_id) == (AddedRecord.Status.ADDED,
                                                 str(held["record_id"]))
    assert len(api_calls(thulium, "POST")) == 1


SWEPT_WORDS = ("Thulium answered so late that the portal had taken this addition for stopped "
               "and checked it in Thulium: its entry says what was found.")


# Thulium's late error after the sweep, and whether it held the record then: a 503 and a
# refusal stored nothing; a cut-off answer came after Thulium stored it.
@pytest.mark.parametrize("fault, held", [
    ("http_503", False), ("refuse", False), ("broken_json", True),
], ids=["503", "refused", "cut-off"])
def test_a_slow_page_failed_after_the_sweep_says_what_the_sweep_found(
        logged_in, campaigns, thulium, monkeypatch, fault, held):
    """Its form showed Thulium's late error, though the entry, which stands, says what the
    sweep found: perhaps that Thulium holds the record, its number known as added."""
    swept_during_the_call(monkeypatch, "add_record", unanswered_additions_check)
    thulium.state.fail_next(fault, path=LISTING, method="POST")

    response = add(logged_in, {"phone_number": NUMBER})

    addition = Entry.objects.get(kind=RECORD_ADDITION.slug)
    assert response.status_code == 302 and response.url == addition.get_absolute_url()
    assert flashed(response) == [SWEPT_WORDS]
    assert SWEPT_WORDS in logged_in.get(response.url).content.decode()
    assert (addition.outcome, addition.detail) == (Outcome.UNKNOWN, CUT_OFF)
    assert the_check().results["found"] is held
    held_ids = [str(record["record_id"]) for record in thulium.state.records("00001")]
    assert [(record.status, record.record_id) for record in AddedRecord.objects.all()] == [
        (AddedRecord.Status.ADDED, record_id) for record_id in held_ids]
    assert len(held_ids) == int(held)
    assert len(api_calls(thulium, "POST")) == 1


def test_a_sweep_that_finds_the_addition_completed_meanwhile_gives_way(
        logged_in, campaigns, thulium, monkeypatch):
    """The page was slow, not dead: it stored Thulium's answer just as the worker took it."""
    pending = added_by_a_dead_page(logged_in, monkeypatch)
    ask = unanswered_module.record_check_ask

    def answered_meanwhile(entry, *args, **kwargs):
        record_add_complete_all([(Entry.objects.get(pk=entry.pk),
                                  added_values("231", http_status=201))])
        return ask(entry, *args, **kwargs)

    monkeypatch.setattr(unanswered_module, "record_check_ask", answered_meanwhile)

    assert unanswered_additions_check() == []

    pending.refresh_from_db()
    assert (pending.outcome, pending.results) == (Outcome.SUCCEEDED, {"record_id": "231"})
    assert AddedRecord.objects.get().status == AddedRecord.Status.ADDED
    assert not Entry.objects.filter(kind=RECORD_CHECK.slug).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("applied", [True, False], ids=["applied", "not-applied"])
def test_two_workers_sweeping_a_dead_page_s_addition_at_once_check_it_once(
        logged_in, campaigns, thulium, monkeypatch, applied):
    skip_unless_postgresql(connection)
    pending = added_by_a_dead_page(logged_in, monkeypatch, applied=applied)
    asked_before = len(api_calls(thulium, "GET"))

    swept = two_workers_sweeping(monkeypatch, unanswered_module, "record_check_ask",
                                 unanswered_additions_check)

    assert sorted(swept) == [[], [pending.pk]]
    assert the_check().results["found"] is applied
    assert len(api_calls(thulium, "GET")) - asked_before == 1  # Thulium asked once
    assert len(api_calls(thulium, "POST")) == int(applied)
