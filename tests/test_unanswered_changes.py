"""A campaign change whose web process died in the middle of its call to Thulium: the
worker's sweep completes it from what Thulium holds, never sending it again."""

import datetime
import threading
from collections.abc import Callable

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse
from django.utils import timezone

import campaigns.four_eyes as four_eyes_module
import campaigns.unanswered as unanswered_module
from audit.models import Entry, Outcome
from audit.recording import entry_complete
from campaigns.due import claim_lease
from campaigns.entries import CAMPAIGN_CHANGE, CHANGE_REQUEST, FOUND_APPLIED, OUTSIDE_CHANGE, Step
from campaigns.four_eyes import change_request_approve, change_request_create
from campaigns.models import Campaign, ChangeRequest
from campaigns.notices import REQUEST_DECIDED, STOPPED_BEFORE_SENDING
from campaigns.reading import campaigns_sync
from campaigns.risk import Risk
from campaigns.services import campaign_update
from campaigns.unanswered import (
    FOUND_HELD,
    FOUND_NOT_HELD,
    NOT_TOLD,
    approved_requests_finish,
    unanswered_changes_finish,
)
from notices.models import Notice
from notices.sending import notice_message
from portal.thulium import ThuliumClient
from portal.thulium.unreachable import UNREACHABLE_WAIT
from tests.conftest import EDITORS, LATE, api_calls, make_user, skip_unless_postgresql
from tests.db_threads import all_at_once
from tests.test_bulk_change import CONFIRM, preview, token_of
from tests.test_four_eyes import edit


class ProcessKilled(BaseException):
    """The web process ended here (SIGKILL, out of memory, gunicorn's timeout): nothing
    after it ran, not even a `finally`."""


def killed_in_the_call(monkeypatch, *, applied: bool) -> None:
    """Make the PUT kill the process, after Thulium stored the change if `applied`; the
    approval's last step, in a `finally`, is not run either, as a dead process runs none."""
    put = ThuliumClient.update_campaign

    def put_then_die(self, campaign_id, changes):
        if applied:
            put(self, campaign_id, changes)
        monkeypatch.setattr(four_eyes_module, "request_sent_tell", lambda *args: False)
        raise ProcessKilled

    monkeypatch.setattr(ThuliumClient, "update_campaign", put_then_die)


def begun_long_ago(monkeypatch, ago: datetime.timedelta = datetime.timedelta(hours=1)) -> None:
    """Make the entries written from now on begun an hour (or `ago`) ago, longer than any
    live process's call can take (claim_lease): a written entry's time cannot be changed."""
    monkeypatch.setattr(Entry._meta.get_field("created_at"), "_get_default",
                        lambda: timezone.now() - ago)


def left_pending() -> Entry:
    return Entry.objects.get(kind=CAMPAIGN_CHANGE.slug, outcome=Outcome.PENDING)


def renamed_by_a_dead_process(monkeypatch, campaign, user, *, applied: bool = True,
                              ago: datetime.timedelta = datetime.timedelta(hours=1)) -> Entry:
    """The pending entry a process killed in the call of a rename left, an hour (or `ago`)
    ago."""
    begun_long_ago(monkeypatch, ago)
    killed_in_the_call(monkeypatch, applied=applied)
    with pytest.raises(ProcessKilled):
        campaign_update(campaign=campaign, changes={"name": "Renamed"}, actor=user)
    monkeypatch.undo()
    return left_pending()


def test_a_call_younger_than_a_lease_is_left_to_its_process(campaigns, user, monkeypatch):
    killed_in_the_call(monkeypatch, applied=True)
    with pytest.raises(ProcessKilled):
        campaign_update(campaign=campaigns["00001"], changes={"name": "Renamed"}, actor=user)

    assert unanswered_changes_finish() == []
    assert left_pending().created_at > timezone.now() - claim_lease()


@pytest.mark.parametrize("applied, outcome, detail", [
    (True, Outcome.UNKNOWN, FOUND_HELD), (False, Outcome.FAILED, FOUND_NOT_HELD),
], ids=["applied", "not-applied"])
def test_an_edit_whose_process_died_in_the_call_is_completed_from_what_thulium_holds(
        campaigns, user, thulium, monkeypatch, applied, outcome, detail):
    campaign = campaigns["00001"]
    pending = renamed_by_a_dead_process(monkeypatch, campaign, user, applied=applied)
    puts = len(api_calls(thulium, "PUT"))

    assert unanswered_changes_finish() == [pending.pk]

    pending.refresh_from_db()
    assert (pending.outcome, pending.detail) == (outcome, detail)
    assert len(api_calls(thulium, "PUT")) == puts == int(applied)  # never sent again
    assert (Campaign.objects.get(pk=campaign.pk).name == "Renamed") is applied
    assert unanswered_changes_finish() == []


def test_an_edit_thulium_cannot_tell_of_is_completed_unknown_and_not_sent_again(
        campaigns, user, thulium, monkeypatch):
    """Thulium answered, and its list left the campaign out (deleted in its panel)."""
    pending = renamed_by_a_dead_process(monkeypatch, campaigns["00001"], user)
    thulium.state.remove_campaign("00001")

    assert unanswered_changes_finish() == [pending.pk]

    pending.refresh_from_db()
    assert (pending.outcome, pending.detail) == (Outcome.UNKNOWN, NOT_TOLD)
    assert len(api_calls(thulium, "PUT")) == 1


THULIUM_DOWN = {"5xx": {"kind": "http_503"}, "timeout": {"kind": "timeout", "delay": LATE},
                "reset": {"kind": "reset"}}


@pytest.mark.parametrize("fault", THULIUM_DOWN.values(), ids=THULIUM_DOWN.keys())
def test_an_edit_is_left_pending_while_thulium_gives_no_answer_and_completed_once_it_does(
        campaigns, user, thulium, monkeypatch, fault):
    """It was completed unknown, "could not tell", at once: for good, though Thulium could
    tell a poll later."""
    pending = renamed_by_a_dead_process(monkeypatch, campaigns["00001"], user, applied=False)
    thulium.state.fail_next(**fault, path="/api/outbounds", method="GET")

    assert unanswered_changes_finish() == []

    pending.refresh_from_db()
    assert pending.outcome == Outcome.PENDING
    assert unanswered_changes_finish() == [pending.pk]  # the next poll, Thulium back
    pending.refresh_from_db()
    assert (pending.outcome, pending.detail) == (Outcome.FAILED, FOUND_NOT_HELD)
    assert api_calls(thulium, "PUT") == []  # never sent again


def test_an_edit_thulium_gave_no_answer_about_for_a_day_is_completed_unknown(
        campaigns, user, thulium, monkeypatch):
    pending = renamed_by_a_dead_process(monkeypatch, campaigns["00001"], user,
                                        ago=UNREACHABLE_WAIT + datetime.timedelta(minutes=1))
    thulium.state.fail_next("http_503", path="/api/outbounds", method="GET")

    assert unanswered_changes_finish() == [pending.pk]

    pending.refresh_from_db()
    assert (pending.outcome, pending.detail) == (Outcome.UNKNOWN, NOT_TOLD)


def test_values_a_read_finds_of_a_call_its_process_left_pending_are_its_own(
        campaigns, user, thulium, monkeypatch):
    """Found before the sweep asked Thulium (its worker not yet run, or Thulium back after
    an outage), they were recorded as changed outside the portal."""
    pending = renamed_by_a_dead_process(monkeypatch, campaigns["00001"], user)

    campaigns_sync()

    found = Entry.objects.get(kind=FOUND_APPLIED.slug)
    assert (found.related, found.details["found"]) == (pending, {"name": "Renamed"})
    assert not Entry.objects.filter(kind=OUTSIDE_CHANGE.slug).exists()
    assert unanswered_changes_finish() == [pending.pk]
    pending.refresh_from_db()
    assert (pending.outcome, pending.detail) == (Outcome.UNKNOWN, FOUND_HELD)


@pytest.fixture
def request_predictive(settings, campaigns, user) -> ChangeRequest:
    settings.FOUR_EYES = True
    user.email = "manager@example.com"
    user.save()
    return change_request_create(campaign=campaigns["00001"], changes={"dialer": "predictive"},
                                 actor=user, reason="Season", risks=[Risk.PREDICTIVE])


def approved_by_a_process_killed_in_the_call(monkeypatch, change_request, *,
                                             applied: bool) -> Entry:
    """The pending entry the approval's process, killed in its call an hour ago, left."""
    begun_long_ago(monkeypatch)
    killed_in_the_call(monkeypatch, applied=applied)
    with pytest.raises(ProcessKilled):
        change_request_approve(change_request=change_request,
                               approver=make_user("second", EDITORS))
    monkeypatch.undo()
    return left_pending()


@pytest.mark.parametrize("applied, ending, words", [
    (True, "applied", "was approved, and Thulium applied the change."),
    (False, "failed", "was approved, but the change could not be sent"),
], ids=["applied", "not-applied"])
def test_an_approved_request_whose_process_died_in_the_call_is_linked_and_told_once(
        request_predictive, user, logged_in, thulium, monkeypatch, applied, ending, words):
    """Found held, it was told that Thulium did not answer, and to check the campaign in
    Thulium, though a scheduled change found held after its worker stopped is told applied."""
    pending = approved_by_a_process_killed_in_the_call(monkeypatch, request_predictive,
                                                       applied=applied)
    request_predictive.refresh_from_db()
    assert request_predictive.sent_change is None
    assert not Notice.objects.filter(kind=REQUEST_DECIDED.slug).exists()
    assert approved_requests_finish() == []  # its call is the sweep of calls' to complete

    assert unanswered_changes_finish() == [pending.pk]

    request_predictive.refresh_from_db()
    assert request_predictive.state == ChangeRequest.State.APPROVED
    assert request_predictive.sent_change == pending
    told = Notice.objects.get(kind=REQUEST_DECIDED.slug)
    assert (told.user, told.context["ending"]) == (user, ending)
    assert words in " ".join(notice_message(told).body.split())
    assert len(api_calls(thulium, "PUT")) == int(applied)
    assert (thulium.state.campaign("00001")["dialer"] == "predictive") is applied
    # The request's page says what was found, as the call's entry does.
    page = logged_in.get(request_predictive.get_absolute_url()).content.decode()
    assert {True: FOUND_HELD, False: FOUND_NOT_HELD}[applied] in page


def test_an_approved_request_s_requester_is_told_once_thulium_answers_the_sweep(
        request_predictive, user, thulium, monkeypatch):
    """They were told at once that Thulium did not answer, and to check the campaign in
    Thulium, though a poll later the sweep learnt that the change was not made."""
    pending = approved_by_a_process_killed_in_the_call(monkeypatch, request_predictive,
                                                       applied=False)
    thulium.state.fail_next("http_503", path="/api/outbounds", method="GET")

    assert unanswered_changes_finish() == []
    assert approved_requests_finish() == []
    assert not Notice.objects.filter(kind=REQUEST_DECIDED.slug).exists()

    assert unanswered_changes_finish() == [pending.pk]
    told = Notice.objects.get(kind=REQUEST_DECIDED.slug)
    assert (told.user, told.context["ending"]) == (user, "failed")


def swept_during_the_call(monkeypatch, call: str = "update_campaign",
                          sweep: Callable[[], list[int]] = unanswered_changes_finish) -> None:
    """Make the process slow, not dead: its call outlives a lease, Thulium stores what it
    sent (or fails, as the sandbox is told), then the worker takes the call for a dead
    process's and sweeps it, and only then does the answer (or the error) come back."""
    begun_long_ago(monkeypatch)
    sent = getattr(ThuliumClient, call)

    def send_then_sweep(self, *args):
        try:
            return sent(self, *args)
        finally:
            assert len(sweep()) == 1

    monkeypatch.setattr(ThuliumClient, call, send_then_sweep)


SWEPT_WORDS = ("Thulium answered so late that the portal had taken this change for stopped "
               f"and checked it in Thulium: {FOUND_HELD}")


def flashed(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_a_slow_edit_answered_after_the_sweep_gives_way_to_it(logged_in, campaigns, thulium,
                                                               monkeypatch):
    """Its page said that Thulium accepted the changes, though the entry it led to says
    that the sweep found them held, and its outcome unknown."""
    swept_during_the_call(monkeypatch)

    response = edit(logged_in, campaigns["00001"], name="Renamed")

    change = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)
    assert (change.outcome, change.detail) == (Outcome.UNKNOWN, FOUND_HELD)
    assert response.status_code == 302 and response.url == change.get_absolute_url()
    assert flashed(response) == [SWEPT_WORDS]
    assert logged_in.get(response.url).status_code == 200
    assert Campaign.objects.get(pk=campaigns["00001"].pk).name == "Renamed"
    assert len(api_calls(thulium, "PUT")) == 1


@pytest.mark.django_db(transaction=True)  # the bulk change's PUTs run in threads of their own
def test_a_slow_bulk_change_answered_after_the_sweep_says_what_the_sweep_found(
        logged_in, campaigns, thulium, monkeypatch):
    swept_during_the_call(monkeypatch)
    token = token_of(preview(logged_in, campaigns=["00001"], order="5"))

    page = logged_in.post(CONFIRM, {"preview": token})

    change = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)
    assert (change.outcome, change.detail) == (Outcome.UNKNOWN, FOUND_HELD)
    text = " ".join(page.content.decode().split())
    assert SWEPT_WORDS in text and change.get_absolute_url() in text
    assert "Thulium accepted the change." not in text


def test_a_slow_approval_answered_after_the_sweep_says_what_the_sweep_found(
        request_predictive, client, thulium, monkeypatch):
    swept_during_the_call(monkeypatch)
    client.force_login(make_user("second", EDITORS))

    response = client.post(reverse("campaigns:request_approve", args=[request_predictive.pk]))

    assert response.url == request_predictive.get_absolute_url()
    assert flashed(response) == [SWEPT_WORDS]


# Thulium's late error after the sweep, and what the sweep found: a 503 and a refusal
# applied nothing; a cut-off answer came after Thulium stored the change.
LATE_ERRORS = pytest.mark.parametrize("fault, found", [
    ("http_503", FOUND_NOT_HELD), ("refuse", FOUND_NOT_HELD), ("broken_json", FOUND_HELD),
], ids=["503", "refused", "cut-off"])
# What a bulk change's page says of a campaign whose PUT failed.
BULK_FAILED_WORDS = ("Thulium refused the change:", "Thulium did not confirm the change:",
                     "The request to Thulium failed:")


def failed_late(thulium, fault: str) -> None:
    thulium.state.fail_next(fault, path="/api/outbounds/00001", method="PUT")


def swept_words(found: str) -> str:
    return ("Thulium answered so late that the portal had taken this change for stopped "
            f"and checked it in Thulium: {found}")


def swept_outcome(found: str) -> tuple[str, str]:
    return (Outcome.UNKNOWN if found == FOUND_HELD else Outcome.FAILED), found


@LATE_ERRORS
def test_a_slow_edit_failed_after_the_sweep_says_what_the_sweep_found(
        logged_in, campaigns, thulium, monkeypatch, fault, found):
    """Its page showed Thulium's late error, though the entry, which stands, says what the
    sweep found: perhaps that Thulium holds the change."""
    swept_during_the_call(monkeypatch)
    failed_late(thulium, fault)

    response = edit(logged_in, campaigns["00001"], name="Renamed")

    change = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)
    assert (change.outcome, change.detail) == swept_outcome(found)
    assert response.status_code == 302 and response.url == change.get_absolute_url()
    assert flashed(response) == [swept_words(found)]
    renamed = Campaign.objects.get(pk=campaigns["00001"].pk).name == "Renamed"
    assert renamed is (found == FOUND_HELD)


@LATE_ERRORS
@pytest.mark.django_db(transaction=True)  # the bulk change's PUTs run in threads of their own
def test_a_slow_bulk_change_failed_after_the_sweep_says_what_the_sweep_found(
        logged_in, campaigns, thulium, monkeypatch, fault, found):
    swept_during_the_call(monkeypatch)
    token = token_of(preview(logged_in, campaigns=["00001"], order="5"))
    failed_late(thulium, fault)

    page = logged_in.post(CONFIRM, {"preview": token})

    change = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)
    assert (change.outcome, change.detail) == swept_outcome(found)
    text = " ".join(page.content.decode().split())
    assert swept_words(found) in text and change.get_absolute_url() in text
    assert not any(words in text for words in BULK_FAILED_WORDS)
    # Offered again as a failed one was: the preview tells whether Thulium lacks the change.
    assert "Preview the change again for the campaigns not changed" in text


@LATE_ERRORS
def test_a_slow_approval_failed_after_the_sweep_says_what_the_sweep_found(
        request_predictive, client, thulium, monkeypatch, fault, found):
    swept_during_the_call(monkeypatch)
    failed_late(thulium, fault)
    client.force_login(make_user("second", EDITORS))

    response = client.post(reverse("campaigns:request_approve", args=[request_predictive.pk]))

    assert response.url == request_predictive.get_absolute_url()
    assert flashed(response) == [swept_words(found)]
    request_predictive.refresh_from_db()
    sent = request_predictive.sent_change
    assert (sent.outcome, sent.detail) == swept_outcome(found)


def test_a_slow_approval_answered_after_the_sweep_tells_the_requester_once(
        request_predictive, user, thulium, monkeypatch):
    swept_during_the_call(monkeypatch)

    sent = change_request_approve(change_request=request_predictive,
                                  approver=make_user("second", EDITORS))

    assert (sent.outcome, sent.detail) == (Outcome.UNKNOWN, FOUND_HELD)
    request_predictive.refresh_from_db()
    assert request_predictive.sent_change == sent
    assert Notice.objects.filter(kind=REQUEST_DECIDED.slug, user=user).count() == 1
    assert len(api_calls(thulium, "PUT")) == 1


def test_a_sweep_that_finds_the_call_completed_meanwhile_gives_way(campaigns, user, thulium,
                                                                   monkeypatch):
    """The process was slow, not dead: it stored Thulium's answer while the worker asked
    Thulium what the campaign holds."""
    pending = renamed_by_a_dead_process(monkeypatch, campaigns["00001"], user)
    asked = unanswered_module.thulium_holds

    def answered_meanwhile(*args, **kwargs):
        entry_complete(Entry.objects.get(pk=pending.pk), outcome=Outcome.SUCCEEDED,
                       http_status=200)
        return asked(*args, **kwargs)

    monkeypatch.setattr(unanswered_module, "thulium_holds", answered_meanwhile)

    assert unanswered_changes_finish() == []

    pending.refresh_from_db()
    assert (pending.outcome, pending.detail) == (Outcome.SUCCEEDED, "")


def approved_by_a_dead_process(monkeypatch, change_request, *, dies_at: str) -> None:
    """Approve the request an hour ago in a process killed at `dies_at`: "claim", after the
    approval's commit and before the call's entry is begun; "tell", after the call's entry
    was completed and before the request was pointed at it (the approval's `finally`)."""
    begun_long_ago(monkeypatch)

    def die(*args, **kwargs):
        monkeypatch.setattr(four_eyes_module, "request_sent_tell", lambda *args: False)
        raise ProcessKilled

    if dies_at == "claim":
        monkeypatch.setattr(four_eyes_module, "campaign_update", die)
    else:
        monkeypatch.setattr(four_eyes_module, "request_sent_tell", die)
    with pytest.raises(ProcessKilled):
        change_request_approve(change_request=change_request,
                               approver=make_user("second", EDITORS))
    monkeypatch.undo()
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.APPROVED
    assert change_request.sent_change is None
    assert not Notice.objects.filter(kind=REQUEST_DECIDED.slug).exists()


def outdated_steps(change_request) -> list[str]:
    return [step.details.get("why") for step in Entry.objects.filter(
        kind=CHANGE_REQUEST.slug, details__request=change_request.pk,
        details__step=Step.OUTDATED)]


def test_an_approval_whose_process_died_before_the_call_is_outdated_not_sent_and_told_once(
        request_predictive, user, thulium, monkeypatch):
    approved_by_a_dead_process(monkeypatch, request_predictive, dies_at="claim")

    assert approved_requests_finish() == [request_predictive.pk]

    request_predictive.refresh_from_db()
    assert request_predictive.state == ChangeRequest.State.STALE
    assert outdated_steps(request_predictive) == [Step.NOT_SENT]
    told = Notice.objects.get(kind=REQUEST_DECIDED.slug)
    assert (told.user, told.context["ending"], told.context["why"]) == (
        user, "not_sent", STOPPED_BEFORE_SENDING)
    said = " ".join(notice_message(told).body.split())
    assert "was approved, but the portal did not send it to Thulium: The portal stopped" in said
    assert "at its time" not in said  # it had none: it was to be sent at once
    assert not Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug).exists()
    assert api_calls(thulium, "PUT") == []  # never sent late
    assert approved_requests_finish() == []
    assert Notice.objects.filter(kind=REQUEST_DECIDED.slug).count() == 1


def test_an_approval_whose_process_died_before_telling_is_linked_and_told_once(
        request_predictive, user, thulium, monkeypatch):
    approved_by_a_dead_process(monkeypatch, request_predictive, dies_at="tell")
    sent = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)
    assert sent.outcome == Outcome.SUCCEEDED

    assert approved_requests_finish() == [request_predictive.pk]

    request_predictive.refresh_from_db()
    assert request_predictive.state == ChangeRequest.State.APPROVED
    assert request_predictive.sent_change == sent
    told = Notice.objects.get(kind=REQUEST_DECIDED.slug)
    assert (told.user, told.context["ending"]) == (user, "applied")
    assert len(api_calls(thulium, "PUT")) == 1
    assert approved_requests_finish() == []
    assert Notice.objects.filter(kind=REQUEST_DECIDED.slug).count() == 1


def test_an_approval_younger_than_a_lease_is_left_to_its_process(request_predictive,
                                                                 monkeypatch):
    monkeypatch.setattr(four_eyes_module, "campaign_update", lambda **kwargs: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        change_request_approve(change_request=request_predictive,
                               approver=make_user("second", EDITORS))

    assert approved_requests_finish() == []
    assert not Notice.objects.filter(kind=REQUEST_DECIDED.slug).exists()  # told once, later


def test_a_slow_approval_resumed_after_the_sweep_sends_nothing_and_gives_way(
        request_predictive, user, client, thulium, monkeypatch):
    """The process was slow, not dead: the worker closed the request before its call was
    begun, taking it for dead; the approver is told, and nothing is sent."""
    begun_long_ago(monkeypatch)
    send = four_eyes_module.campaign_update

    def sweep_then_send(**kwargs):
        assert approved_requests_finish() == [request_predictive.pk]
        return send(**kwargs)

    monkeypatch.setattr(four_eyes_module, "campaign_update", sweep_then_send)
    client.force_login(make_user("second", EDITORS))

    response = client.post(reverse("campaigns:request_approve",
                                   args=[request_predictive.pk]), follow=True)

    assert response.status_code == 200
    assert "the portal took too long to send the change" in response.content.decode()
    assert api_calls(thulium, "PUT") == []
    assert not Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug).exists()
    request_predictive.refresh_from_db()
    assert request_predictive.state == ChangeRequest.State.STALE
    assert request_predictive.sent_change is None
    assert outdated_steps(request_predictive) == [Step.NOT_SENT]
    told = Notice.objects.get(kind=REQUEST_DECIDED.slug)
    assert (told.user, told.context["ending"]) == (user, "not_sent")


def two_workers_sweeping(monkeypatch, module, name: str, sweep: Callable[[], list]) -> list:
    """Run `sweep` on two threads (two workers' loops, each its own connection), both past
    `module.name` before either goes on: both read the row as left, and race to finish it.
    Returns what each sweep returned."""
    both_there = threading.Barrier(2, timeout=30)
    reached = getattr(module, name)

    def wait_for_the_other(*args, **kwargs):
        both_there.wait()
        return reached(*args, **kwargs)

    monkeypatch.setattr(module, name, wait_for_the_other)
    swept = []
    all_at_once([lambda: swept.append(sweep())] * 2)
    return swept


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("applied, outcome", [(True, Outcome.UNKNOWN), (False, Outcome.FAILED)],
                         ids=["applied", "not-applied"])
def test_two_workers_sweeping_a_dead_approval_s_call_at_once_tell_its_requester_once(
        request_predictive, user, thulium, monkeypatch, applied, outcome):
    skip_unless_postgresql(connection)
    approved_by_a_process_killed_in_the_call(monkeypatch, request_predictive,
                                             applied=applied)
    pending = left_pending()

    swept = two_workers_sweeping(monkeypatch, unanswered_module, "thulium_holds",
                                 unanswered_changes_finish)

    assert sorted(swept) == [[], [pending.pk]]
    pending.refresh_from_db()
    assert pending.outcome == outcome
    request_predictive.refresh_from_db()
    assert request_predictive.sent_change == pending
    assert Notice.objects.filter(kind=REQUEST_DECIDED.slug).count() == 1
    assert len(api_calls(thulium, "PUT")) == int(applied)  # never sent again


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("dies_at, meeting", [("claim", "approved_unsent_close"),
                                              ("tell", "request_sent_tell")])
def test_two_workers_ending_a_dead_approval_at_once_tell_its_requester_once(
        request_predictive, user, thulium, monkeypatch, dies_at, meeting):
    skip_unless_postgresql(connection)
    approved_by_a_dead_process(monkeypatch, request_predictive, dies_at=dies_at)

    swept = two_workers_sweeping(monkeypatch, unanswered_module, meeting,
                                 approved_requests_finish)

    assert sorted(swept) == [[], [request_predictive.pk]]
    assert Notice.objects.filter(kind=REQUEST_DECIDED.slug).count() == 1
    assert len(api_calls(thulium, "PUT")) == int(dies_at == "tell")
