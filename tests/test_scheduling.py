"""Scheduled changes: saved from the edit form, sent once when due, cancelled, missed.

The due-check (`campaigns.due.due_changes_apply`) is what the worker runs every
SCHEDULE_POLL_SECONDS; here the test runs it, after moving a change's time to now.
Real worker processes are in test_scheduling_workers.py.
"""

import datetime
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import Entry, Outcome
from audit.recording import WORKER, entry_begin
from campaigns import due as due_module
from campaigns import scheduling
from campaigns.due import NOT_TOLD, _held, claim_lease, due_changes_apply
from campaigns.entries import CAMPAIGN_CHANGE, SCHEDULED_CHANGE, ScheduleStep
from campaigns.four_eyes import change_requests_expire
from campaigns.holding import holds
from campaigns.models import Campaign, ChangeRequest, ScheduledChange
from campaigns.reading import campaigns_sync
from campaigns.schedule_views import WAITING_PER_PAGE
from campaigns.services import CampaignChanged
from notices.models import Notice
from notices.sending import notice_message
from portal.shown_times import shown_minute, shown_short_time, shown_time
from portal.thulium import get_client
from portal.thulium.unreachable import UNREACHABLE_WAIT
from tests.conftest import AUDITORS, EDITORS, LATE, admin_shows, api_calls, make_user
from tests.test_campaign_form import form_values
from tests.test_four_eyes import (  # noqa: F401
    edit,
    four_eyes,
    outcomes_shown,
    second_editor,
    stop_editing,
)
from tests.test_unanswered_changes import begun_long_ago

State = ScheduledChange.State


def local(moment: datetime.datetime) -> str:
    """A moment as a datetime-local input posts it, in the portal's time zone."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def ahead(minutes: int = 60) -> str:
    return local(timezone.now() + datetime.timedelta(minutes=minutes))


def due(change: ScheduledChange, minutes_late: float = 0) -> None:
    """Move the change's time to now (or that many minutes ago), as if it had come."""
    moment = timezone.now() - datetime.timedelta(minutes=minutes_late, seconds=1)
    ScheduledChange.objects.filter(pk=change.pk).update(apply_at=moment)


@pytest.fixture
def sales(campaigns):
    return campaigns["00001"]


@pytest.fixture
def scheduled(logged_in, sales, thulium) -> ScheduledChange:
    """The manager deactivates the sales campaign in an hour."""
    response = edit(logged_in, sales, active="false", apply_at=ahead(),
                    reason="Evening: calls end")
    assert response.status_code == 302, response.context["form"].errors
    thulium.state.received_forget()  # the form's reading of the campaign
    return ScheduledChange.objects.get()


@pytest.fixture
def requested_at_ten(four_eyes, logged_in, sales) -> ChangeRequest:  # noqa: F811
    """With four eyes, the manager asks to dial predictively in an hour."""
    edit(logged_in, sales, dialer="predictive", apply_at=ahead(), reason="Predictive at 10")
    return ChangeRequest.objects.get()


def approve(client, approver, change_request: ChangeRequest) -> str:
    """The page the approver is shown after approving the request."""
    client.force_login(approver)
    return client.post(reverse("campaigns:request_approve", args=[change_request.pk]),
                       follow=True).content.decode()


def post_twice(client, campaign, **changes):
    """The edit form posted twice as it was shown (a double click, a page sent again)."""
    url = reverse("campaigns:edit", args=[campaign.thulium_id])
    data = {**form_values(client.get(url), "name"), "confirmed": "1", **changes}
    return client.post(url, data), client.post(url, data, follow=True)


def test_a_change_with_a_time_posted_twice_is_saved_and_sent_once(logged_in, sales, thulium):
    _first, again = post_twice(logged_in, sales, active="false", apply_at=ahead(),
                               reason="Evening")
    assert "This change was saved already" in again.content.decode()
    (change,) = ScheduledChange.objects.all()
    due(change)
    due_changes_apply()
    assert len(api_calls(thulium, "PUT")) == 1


@pytest.mark.parametrize("apply_at", [ahead, lambda: None], ids=["with-a-time", "at-once"])
def test_with_four_eyes_a_request_posted_twice_is_one_request(
    four_eyes, logged_in, sales, thulium, apply_at  # noqa: F811
):
    first, again = post_twice(logged_in, sales, dialer="predictive", reason="Season",
                              **({"apply_at": when} if (when := apply_at()) else {}))
    (request,) = ChangeRequest.objects.all()
    assert first.url == again.redirect_chain[-1][0] == request.get_absolute_url()
    assert "This request was saved already" in again.content.decode()


def test_a_change_with_a_time_is_saved_and_nothing_is_sent(scheduled, logged_in, user, sales,
                                                           thulium):
    assert api_calls(thulium) == []
    assert (scheduled.changes, scheduled.state, scheduled.created_by) == (
        {"active": False}, State.WAITING, user)
    assert scheduled.settings_before == sales.settings
    step = scheduled.scheduled_entry
    assert (step.kind, step.details["step"], step.outcome, step.reason) == (
        SCHEDULED_CHANGE.slug, ScheduleStep.SCHEDULED, Outcome.SUCCEEDED, "Evening: calls end")
    # The campaign page and the list of all of them show it waiting; the nav links there.
    page = logged_in.get(sales.get_absolute_url()).content.decode()
    assert 'data-testid="campaign-waiting-changes"' in page
    assert scheduled.get_absolute_url() in page
    assert reverse("campaigns:scheduled") in page
    listed = logged_in.get(reverse("campaigns:scheduled"))
    assert list(listed.context["waiting"]) == [scheduled]
    # The settings it changes in the form's words, not Thulium's ("active").
    for html in (page, listed.content.decode()):
        row = html.split(f'data-scheduled="{scheduled.pk}"')[1].split("</tr>")[0]
        assert "<td>Active</td>" in row, row


def test_the_step_s_page_and_summary_show_its_time_as_the_portal_writes_times(scheduled,
                                                                             logged_in):
    step = scheduled.scheduled_entry
    entry = logged_in.get(step.get_absolute_url()).content.decode()
    timeline = logged_in.get(reverse("audit:timeline")).content.decode()

    # In the portal's zone, e.g. "4 Dec. 2026, 10:15": set to the minute, no seconds shown.
    shown = shown_time(scheduled.apply_at).removesuffix(":00")
    assert f"to be applied at {shown}<" in entry.replace(" · ", "<")
    assert f"change for {shown} " in timeline
    assert shown_time(scheduled.apply_at) not in entry + timeline
    assert step.details["apply_at"] not in entry + timeline  # not the text it is kept as


def test_the_scheduled_change_s_page_shows_it_field_by_field(scheduled, logged_in):
    """It showed raw JSON in English ("active": false)."""
    page = logged_in.get(scheduled.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pl")
    table = page.content.decode().split('data-testid="changes-to-send"')[1].split("</table>")[0]
    assert "Aktywna" in table and '"active"' not in table


def test_only_editors_its_author_and_auditors_read_a_scheduled_change(scheduled, client):
    """Anyone logged in read its reason and values, which the audit trail hides from them."""
    client.force_login(make_user("reader"))
    step = Entry.objects.get(kind=SCHEDULED_CHANGE.slug)
    assert client.get(step.get_absolute_url()).status_code == 403
    for url in (scheduled.get_absolute_url(), reverse("campaigns:scheduled")):
        page = client.get(url).content.decode()
        assert scheduled.get_absolute_url() in page
        assert "Evening: calls end" not in page and "manager" not in page
        assert 'data-testid="changes-to-send"' not in page
    for reader in (scheduled.created_by, make_user("audrey", AUDITORS)):
        client.force_login(reader)
        page = client.get(scheduled.get_absolute_url()).content.decode()
        assert "Evening: calls end" in page and 'data-testid="changes-to-send"' in page


def test_staff_who_may_view_scheduled_changes_in_the_admin_read_there_only_what_the_portal_shows(
        scheduled, client):
    boss = make_user("boss", is_staff=True)
    boss.user_permissions.add(Permission.objects.get(codename="view_scheduledchange"))
    client.force_login(boss)
    assert admin_shows(client, scheduled) == (False, False)
    boss.groups.add(Group.objects.get(name=AUDITORS))
    client.force_login(User.objects.get(pk=boss.pk))
    assert admin_shows(client, scheduled) == (True, True)


@pytest.mark.parametrize(("zone", "named"), [("Europe/Warsaw", "2027-01-10 10:00 CET"),
                                              ("America/New_York", "2027-01-10 04:00 EST")])
def test_the_admin_names_a_scheduled_change_by_its_time_in_the_portal_s_zone(
        scheduled, client, settings, zone, named):
    """The admin's heading read "00001 at 2027-01-10 09:00 (waiting)": UTC, with no zone."""
    settings.TIME_ZONE = zone
    ScheduledChange.objects.filter(pk=scheduled.pk).update(
        apply_at=datetime.datetime(2027, 1, 10, 9, 0, tzinfo=datetime.UTC))
    auditor = make_user("boss", is_staff=True)
    auditor.user_permissions.add(Permission.objects.get(codename="view_scheduledchange"))
    auditor.groups.add(Group.objects.get(name=AUDITORS))
    client.force_login(auditor)
    page = client.get(reverse("admin:campaigns_scheduledchange_change", args=[scheduled.pk]))
    assert f"<h2>change of 00001 at {named} (waiting)</h2>" in page.content.decode()


def test_a_scheduled_time_keeps_its_seconds_only_where_it_has_some(scheduled, logged_in):
    page = logged_in.get(scheduled.get_absolute_url()).content.decode()
    assert shown_time(scheduled.apply_at).removesuffix(":00") + "<" in page
    typed = scheduled.apply_at.replace(second=30)  # "24.12.2026 10:15:30" may be typed
    assert shown_minute(typed) == shown_time(typed)


def test_a_due_change_is_sent_once_through_the_same_service_as_an_immediate_one(
    scheduled, logged_in, user, sales, thulium
):
    due(scheduled)
    assert due_changes_apply() == [scheduled.pk]
    assert due_changes_apply() == []  # a second look sends nothing again

    assert [call["json"] for call in api_calls(thulium, "PUT")] == [{"active": False}]
    scheduled.refresh_from_db()
    assert scheduled.state == State.APPLIED
    sent = scheduled.sent_change
    assert (sent.kind, sent.actor, sent.outcome, sent.reason, sent.related) == (
        CAMPAIGN_CHANGE.slug, user, Outcome.SUCCEEDED, "Evening: calls end",
        scheduled.scheduled_entry)
    sales.refresh_from_db()
    assert sales.settings["active"] is False
    # The scheduled step's page tells what became of it, linked to the call.
    page = logged_in.get(scheduled.scheduled_entry.get_absolute_url()).content.decode()
    assert "applied" in page and sent.get_absolute_url() in page


def test_changes_due_as_the_clocks_jump_or_go_back_are_each_sent_once_at_their_moment(
        logged_in, sales, thulium, monkeypatch):
    """The worker compares moments, not Warsaw's wall-clock times: across the spring's
    skipped hour and the autumn's repeated one, each change is sent once, when it is due."""
    typed = {"Before the jump": "2027-03-28T01:59", "After the jump": "2027-03-28T03:00",
             "First 02:30": "2027-10-31T02:30+02:00", "Second 02:30": "2027-10-31T02:30+01:00"}
    for name, apply_at in typed.items():
        assert edit(logged_in, sales, name=name, apply_at=apply_at).status_code == 302
    thulium.state.received_forget()
    sent = {}
    for start in (datetime.datetime(2027, 3, 28, 0, 55, tzinfo=datetime.UTC),
                  datetime.datetime(2027, 10, 31, 0, 25, tzinfo=datetime.UTC)):
        for minute in range(0, 75):  # a poll each minute, through the clocks' change
            now = start + datetime.timedelta(minutes=minute)
            monkeypatch.setattr("campaigns.due.timezone.now", lambda now=now: now)
            for pk in due_changes_apply():
                sent.setdefault(ScheduledChange.objects.get(pk=pk).changes["name"], []).append(
                    now.strftime("%m-%d %H:%M UTC"))
    assert sent == {"Before the jump": ["03-28 00:59 UTC"], "After the jump": ["03-28 01:00 UTC"],
                    "First 02:30": ["10-31 00:30 UTC"], "Second 02:30": ["10-31 01:30 UTC"]}
    assert [call["json"]["name"] for call in api_calls(thulium, "PUT")] == list(typed)


def test_a_due_change_thulium_refuses_ends_with_thulium_s_answer(scheduled, logged_in, user,
                                                                 thulium):
    user.email = "manager@example.com"
    user.save()
    thulium.state.fail_next("refuse")
    due(scheduled)
    due_changes_apply()

    scheduled.refresh_from_db()
    assert (scheduled.state, scheduled.sent_change.outcome) == (State.REFUSED, Outcome.REFUSED)
    assert len(api_calls(thulium, "PUT")) == 1
    page = logged_in.get(scheduled.get_absolute_url()).content.decode()
    assert scheduled.sent_change.get_absolute_url() in page
    assert f"(HTTP {scheduled.sent_change.http_status})" in page
    # Thulium's words, on the change's page and its scheduled step's
    assert scheduled.sent_change.messages and scheduled.sent_change.request_id
    assert scheduled.sent_change.messages[0] in page
    assert scheduled.sent_change.request_id in page  # to quote to Thulium's support
    step_page = logged_in.get(scheduled.scheduled_entry.get_absolute_url()).content.decode()
    assert scheduled.sent_change.messages[0] in step_page
    mail = notice_message(Notice.objects.get(kind="scheduled-change-not-applied", user=user))
    assert "Thulium refused it" in mail.body
    # When it was due, in the portal's zone: its author may have several for the campaign.
    assert f"It was due at {shown_minute(scheduled.apply_at)}." in mail.body


@pytest.mark.parametrize("fault", ["http_503", "http_429"])
def test_a_due_change_that_meets_thulium_briefly_down_is_sent_at_the_next_poll(
    scheduled, logged_in, thulium, fault
):
    thulium.state.fail_next(fault, path="/api/outbounds/00001")  # nothing was applied
    due(scheduled)
    assert due_changes_apply() == []

    scheduled.refresh_from_db()
    assert scheduled.state == State.WAITING
    assert scheduled.sent_change.outcome == Outcome.FAILED
    page = logged_in.get(scheduled.get_absolute_url()).content.decode()
    assert "Last try, to be tried again" in page
    assert f"(HTTP {scheduled.sent_change.http_status})" in page
    assert due_changes_apply() == [scheduled.pk]
    scheduled.refresh_from_db()
    assert scheduled.state == State.APPLIED
    assert thulium.state.campaign("00001")["active"] is False
    assert len(api_calls(thulium, "PUT")) == 2
    # Each try is in the audit trail, under the change's scheduled step.
    tries = Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug, related=scheduled.scheduled_entry)
    assert sorted(tries.values_list("outcome", flat=True)) == [Outcome.FAILED,
                                                               Outcome.SUCCEEDED]
    assert not Notice.objects.exists()


def test_a_due_change_thulium_stays_down_for_fails_once_the_grace_runs_out(
    scheduled, user, thulium, settings
):
    """Every try is in the audit trail; its author is told that the campaign is as it was."""
    user.email = "manager@example.com"
    user.save()
    settings.SCHEDULE_GRACE_MINUTES = 15
    thulium.state.fail_next("http_503", times=2, path="/api/outbounds/00001")
    due(scheduled, minutes_late=1)
    due_changes_apply()
    due(scheduled, minutes_late=10)
    due_changes_apply()
    due(scheduled, minutes_late=20)  # the grace ran out with Thulium down
    assert due_changes_apply() == [scheduled.pk]

    scheduled.refresh_from_db()
    assert scheduled.state == State.FAILED
    assert len(api_calls(thulium, "PUT")) == 2
    last_try = Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug).latest("pk")
    assert (scheduled.sent_change, last_try.http_status) == (last_try, 503)
    steps = Entry.objects.filter(kind=SCHEDULED_CHANGE.slug)
    assert list(steps.values_list("details__step", flat=True)) == [ScheduleStep.SCHEDULED]
    mail = notice_message(Notice.objects.get(kind="scheduled-change-not-applied", user=user))
    assert "could not be sent" in mail.body and "15 minutes" in mail.body
    assert scheduled.get_absolute_url() in mail.body


def test_a_due_change_whose_answer_was_lost_is_not_tried_again(scheduled, thulium):
    """A timeout after sending may have applied it: Thulium is asked (below), never sent
    it twice, even within the grace."""
    thulium.state.fail_next("timeout", path="/api/outbounds/00001", delay=LATE, apply=False)
    due(scheduled)
    due_changes_apply()
    due_changes_apply()

    scheduled.refresh_from_db()
    assert scheduled.state == State.FAILED
    assert len(api_calls(thulium, "PUT")) == 1


def test_a_lost_answer_is_looked_up_in_thulium_never_sent_again(scheduled, thulium):
    # Applied before the worker's lookup is answered, though the sandbox stalled.
    thulium.state.fail_next("timeout", path="/api/outbounds/00001", delay=LATE, first=True)
    due(scheduled)
    due_changes_apply()

    scheduled.refresh_from_db()
    assert scheduled.state == State.APPLIED
    assert scheduled.sent_change.outcome == Outcome.UNKNOWN
    assert [(c["method"], c["path"]) for c in api_calls(thulium)] == [
        ("PUT", "/api/outbounds/00001"), ("GET", "/api/outbounds")]


@pytest.mark.parametrize("minutes_late, state, puts", [(10, State.APPLIED, 1),
                                                       (20, State.MISSED, 0)])
def test_a_change_due_while_no_worker_ran_is_sent_only_within_the_grace(
    scheduled, settings, thulium, minutes_late, state, puts
):
    settings.SCHEDULE_GRACE_MINUTES = 15
    due(scheduled, minutes_late=minutes_late)
    due_changes_apply()

    scheduled.refresh_from_db()
    assert scheduled.state == state
    assert len(api_calls(thulium, "PUT")) == puts
    steps = Entry.objects.filter(kind=SCHEDULED_CHANGE.slug).values_list("details__step",
                                                                         flat=True)
    missed = [ScheduleStep.MISSED] if state == State.MISSED else []
    assert sorted(steps) == sorted([ScheduleStep.SCHEDULED, *missed])
    if missed:  # found missed by the worker: no one's doing, the author's least of all
        step = Entry.objects.get(kind=SCHEDULED_CHANGE.slug, details__step=ScheduleStep.MISSED)
        assert (step.actor, step.actor_username) == (None, WORKER)


def test_a_waiting_change_is_cancelled_with_a_reason_and_never_sent(
    scheduled, logged_in, thulium
):
    url = reverse("campaigns:scheduled_cancel", args=[scheduled.pk])
    response = logged_in.post(url, {"reason": ""})
    assert response.status_code == 200
    assert "reason" in response.context["cancel_form"].errors
    logged_in.post(url, {"reason": "The client extended the campaign"})
    due(scheduled)
    due_changes_apply()

    scheduled.refresh_from_db()
    assert scheduled.state == State.CANCELLED
    assert scheduled.cancel_reason == "The client extended the campaign"
    assert api_calls(thulium) == []
    step = Entry.objects.get(kind=SCHEDULED_CHANGE.slug, details__step=ScheduleStep.CANCELLED)
    assert (step.details["note"], step.related) == ("The client extended the campaign",
                                                    scheduled.scheduled_entry)
    # In Polish a change's ending agrees with "zmiana", not with an import's "import".
    page = logged_in.get(reverse("campaigns:scheduled_change", args=[scheduled.pk]),
                         HTTP_ACCEPT_LANGUAGE="pl")
    assert ">anulowana" in page.content.decode()


def test_a_cancelled_or_missed_change_reads_as_such_not_as_sent_and_accepted(
    scheduled, logged_in, client, settings, thulium
):
    """Their pages said "Thulium's answer: Accepted." and showed the values under "Sent to
    Thulium, exactly", and the timeline's outcome said "succeeded": nothing was sent."""
    logged_in.post(reverse("campaigns:scheduled_cancel", args=[scheduled.pk]),
                   {"reason": "The client extended the campaign"})
    edit(logged_in, scheduled.campaign, active="false", apply_at=ahead(), reason="Again")
    settings.SCHEDULE_GRACE_MINUTES = 15
    due(ScheduledChange.objects.get(state=State.WAITING), minutes_late=20)
    due_changes_apply()
    client.force_login(make_user("auditor", AUDITORS))

    for step, words, polish in [(ScheduleStep.CANCELLED, "cancelled", "anulowana"),
                                (ScheduleStep.MISSED, "missed (not sent)",
                                 "pominięta (nie wysłano)")]:
        url = Entry.objects.get(kind=SCHEDULED_CHANGE.slug, details__step=step).get_absolute_url()
        page = client.get(url).content.decode()
        assert 'data-testid="answer"' not in page and "Sent to Thulium, exactly" not in page
        assert "What it was given, exactly" in page and outcomes_shown(page) == [words]
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="pl").content.decode()
        assert "Odpowiedź Thulium" not in page and outcomes_shown(page) == [polish]
    timeline = client.get(reverse("audit:timeline"), {"kind": SCHEDULED_CHANGE.slug})
    assert outcomes_shown(timeline.content.decode()) == [
        "missed (not sent)", "scheduled", "cancelled", "scheduled"]
    assert api_calls(thulium, "PUT") == []


def test_cancelling_a_change_no_longer_waiting_says_so_and_keeps_the_reason(
    scheduled, logged_in, thulium
):
    due(scheduled)
    due_changes_apply()
    response = logged_in.post(reverse("campaigns:scheduled_cancel", args=[scheduled.pk]),
                              {"reason": "Too late?"})
    assert response.status_code == 200
    error = response.context["cancel_form"].errors["reason"][0]
    assert "no longer waiting" in error and "applied" in error
    assert "Too late?</textarea>" in response.content.decode()
    scheduled.refresh_from_db()
    assert scheduled.state == State.APPLIED


@pytest.mark.parametrize("typed, words", [
    (lambda: ahead(-5), "This time has passed"),
    # Europe/Warsaw: clocks go from 02:00 to 03:00 on 2027-03-28, back from 03:00 to 02:00
    # on 2027-10-31.
    (lambda: "2027-03-28T02:30", "does not exist or happens twice in Europe/Warsaw"),
    (lambda: "2027-10-31T02:30", "does not exist or happens twice in Europe/Warsaw"),
    (lambda: "next monday 8:00", "Enter a date and time as YYYY-MM-DD HH:MM or DD.MM.YYYY HH:MM."),
    # A slip of the keyboard: it was saved, to be sent in the year 9999.
    (lambda: "9999-12-31T23:59", "Enter a date between 2000 and 2999."),
])
def test_a_bad_time_is_refused_next_to_the_field_with_the_input_kept(
    logged_in, sales, thulium, typed, words
):
    value = typed()
    response = edit(logged_in, sales, active="false", apply_at=value)
    assert response.status_code == 200
    assert words in response.context["form"].errors["apply_at"][0]
    assert f'value="{value}"' in response.content.decode()
    assert api_calls(thulium, "PUT") == []
    assert not ScheduledChange.objects.exists()


def test_with_four_eyes_a_risky_scheduled_change_waits_for_approval_then_for_its_time(
    four_eyes, logged_in, client, second_editor, sales, thulium  # noqa: F811
):
    response = edit(logged_in, sales, dialer="predictive", apply_at=ahead(),
                    reason="Predictive from 10:00")
    change_request = ChangeRequest.objects.get()
    assert response.url == change_request.get_absolute_url()
    assert change_request.apply_at is not None
    assert not ScheduledChange.objects.exists()

    page = approve(client, second_editor, change_request)
    assert "the change waits for its time" in page
    assert api_calls(thulium, "PUT") == []
    scheduled = ScheduledChange.objects.get()
    assert (scheduled.change_request, scheduled.created_by_username, scheduled.apply_at) == (
        change_request, "manager", change_request.apply_at)
    assert scheduled.scheduled_entry.actor == second_editor
    assert scheduled.scheduled_entry.related.details["step"] == "approved"

    due(scheduled)
    due_changes_apply()
    assert [call["json"] for call in api_calls(thulium, "PUT")] == [{"dialer": "predictive"}]


def test_with_four_eyes_a_change_risky_only_by_its_time_is_not_sent_unapproved(
    four_eyes, logged_in, sales, thulium  # noqa: F811
):
    """Lowering the predictive maximum from 3 to 2 needs no approval; once an approved
    change took it to 1 meanwhile, sending 2 raises it: that needs a second editor."""
    response = edit(logged_in, sales, predictive_max_calls="2", apply_at=ahead(),
                    reason="Fewer calls in the evening")
    assert response.status_code == 302 and not ChangeRequest.objects.exists()
    scheduled = ScheduledChange.objects.get()
    sales.settings["parameters"]["predictive_max_calls"] = 1
    sales.save()

    due(scheduled)
    due_changes_apply()

    assert api_calls(thulium, "PUT") == []
    scheduled.refresh_from_db()
    assert scheduled.state == State.CANCELLED
    assert "second editor's approval" in scheduled.cancel_reason
    page = logged_in.get(reverse("campaigns:scheduled_change", args=[scheduled.pk]))
    assert "a risky change" in page.content.decode()


def test_with_four_eyes_a_change_made_risky_as_it_is_sent_is_not_sent_unapproved(
    four_eyes, logged_in, sales, thulium, monkeypatch  # noqa: F811
):
    """An approved change took the maximum to 1 at the very moment the scheduled one (to 2)
    was sent: its second try sent it, judged against the settings of its first."""
    edit(logged_in, sales, predictive_max_calls="2", apply_at=ahead(), reason="Evening")
    scheduled = ScheduledChange.objects.get()
    tries = []

    def changed_meanwhile(*, campaign, **_sent):
        tries.append(campaign.settings["parameters"]["predictive_max_calls"])
        Campaign.objects.filter(pk=campaign.pk).update(settings={
            **campaign.settings, "parameters": {**campaign.settings["parameters"],
                                                "predictive_max_calls": 1}})
        raise CampaignChanged

    monkeypatch.setattr("campaigns.due.campaign_update", changed_meanwhile)
    due(scheduled)
    due_changes_apply()

    assert tries == [3]  # the first try only
    scheduled.refresh_from_db()
    assert scheduled.state == State.CANCELLED
    assert "second editor's approval" in scheduled.cancel_reason


def test_with_four_eyes_an_approval_after_the_time_is_refused(
    requested_at_ten, client, second_editor, thulium  # noqa: F811
):
    change_request = requested_at_ten
    ChangeRequest.objects.filter(pk=change_request.pk).update(apply_at=timezone.now())
    change_request.requester.email = "manager@example.com"
    change_request.requester.save()

    page = approve(client, second_editor, change_request)
    assert "The time this change was to be applied at has passed" in page
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.STALE
    assert not ScheduledChange.objects.exists()
    assert api_calls(thulium, "PUT") == []
    # Why it is outdated, on its page, in its audit step and in the requester's mail (it
    # said the campaign had changed).
    assert "outdated (the time it was to be applied at had passed)" in page
    step = Entry.objects.get(kind="change-request", details__step="stale")
    assert step.details["why"] == "time_passed"
    entry_page = client.get(step.get_absolute_url()).content.decode()
    assert "outdated (the time it was to be applied at had passed)" in entry_page
    mail = Notice.objects.get(kind="change-request-decided", user__username="manager")
    assert mail.context["ending"] == "too_late"
    assert "its time had passed" in notice_message(mail).subject


def test_with_four_eyes_a_request_whose_time_passes_unapproved_is_marked_outdated(
    requested_at_ten, client, second_editor, thulium  # noqa: F811
):
    """Left waiting, it stayed in the approvers' count for good and its requester never
    heard of it."""
    change_request = requested_at_ten
    change_request.requester.email = "manager@example.com"
    change_request.requester.save()
    client.force_login(second_editor)
    assert client.get(reverse("campaigns:requests")).context["requests_to_approve"] == 1
    ChangeRequest.objects.filter(pk=change_request.pk).update(apply_at=timezone.now())
    assert client.get(reverse("campaigns:requests")).context["requests_to_approve"] == 0

    assert change_requests_expire() == [change_request.pk]
    assert change_requests_expire() == []

    change_request.refresh_from_db()
    assert (change_request.state, change_request.decided_by) == (ChangeRequest.State.STALE,
                                                                  None)
    step = Entry.objects.get(kind="change-request", details__step="stale")
    assert (step.actor, step.actor_username, step.details["why"]) == (None, WORKER,
                                                                      "time_passed")
    client.force_login(make_user("auditor", AUDITORS))
    assert "outdated (the time it was to be applied at had passed)" in client.get(
        step.get_absolute_url()).content.decode()
    state = client.get(change_request.get_absolute_url()).content.decode().split(
        'data-testid="request-state">')[1].split("</dd>")[0]
    assert state.startswith("outdated (the time it was to be applied at had passed) · ")
    assert " · ," not in state  # decided by no one: no blank name
    assert api_calls(thulium, "PUT") == [] and not ScheduledChange.objects.exists()
    mail = notice_message(Notice.objects.get(kind="change-request-decided",
                                             user__username="manager"))
    assert "its time had passed" in mail.subject
    assert "came before a second editor approved it" in mail.body


def test_with_four_eyes_a_request_of_someone_who_may_no_longer_edit_is_not_scheduled(
    requested_at_ten, user, client, second_editor, thulium  # noqa: F811
):
    """The approver was told it waits for its time; at that time the worker cancelled it,
    the author being gone, with no one told beforehand."""
    user.email = "manager@example.com"
    user.save()
    stop_editing(user, "role taken")

    page = approve(client, second_editor, requested_at_ten)

    assert "Not approved: the one who asked for this change" in page
    assert "the change waits for its time" not in page
    assert not ScheduledChange.objects.exists() and api_calls(thulium, "PUT") == []
    requested_at_ten.refresh_from_db()
    assert requested_at_ten.state == ChangeRequest.State.STALE
    step = Entry.objects.get(kind="change-request", details__step="stale")
    assert step.details["why"] == "requester_gone"
    # They may no longer change campaigns: no mail of such changes is theirs (one said the
    # campaign had changed).
    assert not Notice.objects.filter(kind="change-request-decided",
                                     user__username="manager").exists()


def time_passes_before_saving(monkeypatch, minutes: int = 61) -> None:
    """The chosen time passes between the form's check and the service's (a time a
    second ahead): the service's clock is moved on."""
    later = timezone.now() + datetime.timedelta(minutes=minutes)
    monkeypatch.setattr(scheduling, "timezone", SimpleNamespace(now=lambda: later))


def test_a_time_that_passes_while_the_change_is_saved_is_a_field_error(
    logged_in, sales, thulium, monkeypatch
):
    """The service refused the time the form had let through: an error page."""
    time_passes_before_saving(monkeypatch)
    when = ahead()
    response = edit(logged_in, sales, order="7", apply_at=when)
    assert response.status_code == 200
    assert "This time has passed" in response.context["form"].errors["apply_at"][0]
    shown = form_values(response.content.decode(), "name")
    assert (shown["order"], shown["apply_at"]) == ("7", when)
    assert not ScheduledChange.objects.exists() and api_calls(thulium, "PUT") == []


def test_with_four_eyes_a_time_that_passes_while_approving_makes_the_request_outdated(
    requested_at_ten, client, second_editor, thulium, monkeypatch  # noqa: F811
):
    change_request = requested_at_ten
    time_passes_before_saving(monkeypatch)
    page = approve(client, second_editor, change_request)
    assert "The time this change was to be applied at has passed" in page
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.STALE
    step = Entry.objects.get(kind="change-request", details__step="stale")
    assert step.details["why"] == "time_passed"
    assert not ScheduledChange.objects.exists() and api_calls(thulium, "PUT") == []


def claimed_long_ago(change: ScheduledChange, by: str = "worker-1") -> None:
    """The change as a worker that died holding it leaves it: applying, its claim older
    than a call can take."""
    ScheduledChange.objects.filter(pk=change.pk).update(
        state=State.APPLYING, claimed_at=timezone.now() - claim_lease() - datetime.timedelta(
            seconds=1), claimed_by=by)


def dead_worker_left(change: ScheduledChange, *, sent: bool) -> Entry:
    """What a worker killed in the middle of the PUT leaves: the change claimed long ago,
    its call begun and never completed; with `sent`, Thulium had stored the change."""
    claimed_long_ago(change)
    begun = entry_begin(kind=CAMPAIGN_CHANGE.slug, actor=change.created_by,
                        campaign=change.campaign, sent=change.changes,
                        related=change.scheduled_entry)
    if sent:
        get_client().update_campaign(change.campaign.thulium_id, change.changes)
    return begun


def test_a_change_a_dead_worker_had_sent_is_found_in_thulium_not_sent_again(
    scheduled, thulium
):
    due(scheduled)
    begun = dead_worker_left(scheduled, sent=True)
    puts_before = len(api_calls(thulium, "PUT"))
    due_changes_apply(worker="worker-2")

    scheduled.refresh_from_db()
    begun.refresh_from_db()
    assert (scheduled.state, scheduled.claimed_by) == (State.APPLIED, "worker-2")
    assert begun.outcome == Outcome.UNKNOWN and "found holding" in begun.detail
    assert len(api_calls(thulium, "PUT")) == puts_before  # nothing sent again
    assert api_calls(thulium)[-1]["path"] == "/api/outbounds"


def test_a_change_a_dead_worker_had_not_sent_is_sent_once(scheduled, thulium):
    due(scheduled)
    begun = dead_worker_left(scheduled, sent=False)
    due_changes_apply(worker="worker-2")

    scheduled.refresh_from_db()
    begun.refresh_from_db()
    assert begun.outcome == Outcome.FAILED and "not holding" in begun.detail
    assert [c["method"] for c in api_calls(thulium)] == ["GET", "PUT"]
    assert scheduled.state == State.APPLIED
    assert scheduled.sent_change != begun and scheduled.sent_change.outcome == Outcome.SUCCEEDED


def test_a_worker_dead_before_trying_again_leaves_a_change_sent_once_not_failed(scheduled,
                                                                                thulium):
    """The earlier try's entry is not the dead worker's call: nothing was sent since."""
    thulium.state.fail_next("http_503", path="/api/outbounds/00001")
    due(scheduled)
    due_changes_apply()
    claimed_long_ago(scheduled)
    due_changes_apply(worker="worker-2")

    scheduled.refresh_from_db()
    assert scheduled.state == State.APPLIED
    assert len(api_calls(thulium, "PUT")) == 2


class WorkerKilled(Exception):
    """The worker's process ended here (killed, or its machine lost)."""


def killed_at(monkeypatch, name: str) -> None:
    """Make campaigns.due's function `name` kill the worker the first time it is called."""
    original, calls = getattr(due_module, name), []

    def kill_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise WorkerKilled(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(due_module, name, kill_once)


@pytest.mark.parametrize("killed_in, fault, calls", [
    ("_send", None, ["GET", "PUT"]),
    ("_try_again", "http_503", ["PUT", "PUT"]),
], ids=["after-found-not-held", "after-thulium-down"])
def test_a_worker_killed_once_nothing_was_applied_leaves_the_change_to_be_sent(
        scheduled, thulium, monkeypatch, killed_in, fault, calls):
    """Killed after Thulium was found not holding a dead worker's call, or after a 503 and
    before the change went back to waiting, it left a call that applied nothing: the next
    worker closed the change as failed, never to be sent, and its author was told."""
    due(scheduled)
    if fault:
        thulium.state.fail_next(fault, path="/api/outbounds/00001")
    else:
        dead_worker_left(scheduled, sent=False)
    killed_at(monkeypatch, killed_in)
    with pytest.raises(WorkerKilled):
        due_changes_apply(worker="worker-2")
    claimed_long_ago(scheduled, by="worker-2")

    assert due_changes_apply(worker="worker-3") == [scheduled.pk]

    scheduled.refresh_from_db()
    assert (scheduled.state, scheduled.claimed_by) == (State.APPLIED, "worker-3")
    assert thulium.state.campaign("00001")["active"] is False
    assert [call["method"] for call in api_calls(thulium)] == calls
    assert not Notice.objects.exists()


def test_a_claim_younger_than_a_call_can_take_is_left_to_its_worker(scheduled, thulium):
    due(scheduled)
    ScheduledChange.objects.filter(pk=scheduled.pk).update(
        state=State.APPLYING, claimed_at=timezone.now(), claimed_by="worker-1")
    assert due_changes_apply(worker="worker-2") == []
    assert api_calls(thulium) == []


def unanswered_while_thulium_is_down(thulium, change: ScheduledChange, call: str) -> None:
    """Leave the due change's call unanswered, applied by Thulium, and make Thulium answer
    the next question of what it holds with a 503: "lost", the answer to the worker's PUT
    did not come; "left", a worker died in the middle of the PUT."""
    due(change)
    if call == "lost":
        thulium.state.fail_next("timeout", path="/api/outbounds/00001", delay=LATE,
                                first=True)
    else:
        dead_worker_left(change, sent=True)
    thulium.state.fail_next("http_503", path="/api/outbounds", method="GET")


@pytest.mark.parametrize("call", ["lost", "left"], ids=["answer-lost", "worker-died"])
def test_a_change_thulium_gives_no_answer_about_is_asked_about_again_not_failed(
    requested_at_ten, client, second_editor, user, thulium, call  # noqa: F811
):
    """It was failed at once, its entry "could not tell", and its requester told that it
    failed, though Thulium held it and could tell a poll later."""
    user.email = "manager@example.com"
    user.save()
    approve(client, second_editor, requested_at_ten)
    scheduled = ScheduledChange.objects.get()
    told = Notice.objects.filter(user=user).count()
    unanswered_while_thulium_is_down(thulium, scheduled, call)

    assert due_changes_apply(worker="worker-2") == []

    scheduled.refresh_from_db()
    assert scheduled.state == State.APPLYING
    assert Notice.objects.filter(user=user).count() == told
    claimed_long_ago(scheduled, by="worker-2")  # its claim's lease ran out
    assert due_changes_apply(worker="worker-3") == [scheduled.pk]
    scheduled.refresh_from_db()
    assert scheduled.state == State.APPLIED
    assert scheduled.sent_change.outcome == Outcome.UNKNOWN
    mails = Notice.objects.filter(user=user).order_by("pk")[told:]
    assert [mail.context["ending"] for mail in mails] == ["applied"]  # told once
    assert len(api_calls(thulium, "PUT")) == 1  # never sent again


@pytest.mark.parametrize("call", ["lost", "left"], ids=["answer-lost", "worker-died"])
def test_a_change_thulium_gave_no_answer_about_for_a_day_fails_and_its_author_is_told(
    scheduled, user, thulium, monkeypatch, call
):
    user.email = "manager@example.com"
    user.save()
    begun_long_ago(monkeypatch, UNREACHABLE_WAIT + datetime.timedelta(minutes=1))
    unanswered_while_thulium_is_down(thulium, scheduled, call)

    assert due_changes_apply(worker="worker-2") == [scheduled.pk]

    scheduled.refresh_from_db()
    assert scheduled.state == State.FAILED
    assert scheduled.sent_change.outcome == Outcome.UNKNOWN
    if call == "left":
        assert scheduled.sent_change.detail == NOT_TOLD
    assert Notice.objects.filter(kind="scheduled-change-not-applied", user=user).count() == 1
    assert len(api_calls(thulium, "PUT")) == 1


@pytest.mark.parametrize("call, outcome", [("lost", "unknown"), ("left", "pending")],
                         ids=["answer-lost", "worker-died"])
def test_a_change_thulium_gives_no_answer_about_shows_its_call_and_until_when_it_is_asked(
    scheduled, logged_in, sales, thulium, monkeypatch, call, outcome
):
    """Its page and lists said only "being applied", for up to a day, with no word of why
    nor a link to its call. Its claim is fresh, as each poll that asks claims it anew."""
    begun_long_ago(monkeypatch)
    unanswered_while_thulium_is_down(thulium, scheduled, call)
    due_changes_apply(worker="worker-2")
    sent = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)

    page = logged_in.get(scheduled.get_absolute_url()).content.decode()

    shown = page.split('data-testid="sent-change"')[1].split("</dd>")[0]
    assert f'<a href="{sent.get_absolute_url()}">' in shown
    assert f'class="outcome-{outcome} ' in shown
    until = shown_time(sent.created_at + UNREACHABLE_WAIT)
    assert f"The portal keeps asking it until {until}, and does not send" in page
    for listed in (reverse("campaigns:scheduled"), sales.get_absolute_url()):
        row = logged_in.get(listed).content.decode().split(
            f'data-scheduled="{scheduled.pk}"')[1].split("</tr>")[0]
        assert 'data-testid="left-unanswered"' in row


def test_a_change_asked_about_past_its_day_says_the_next_round_ends_it(
    scheduled, logged_in, user, thulium, monkeypatch
):
    """Its call begun more than a day ago and no worker run since, its page said that the
    portal keeps asking until a time already past: the next round asks once more and, with
    no answer, fails it, as the page now says."""
    user.email = "manager@example.com"
    user.save()
    begun_long_ago(monkeypatch, UNREACHABLE_WAIT + datetime.timedelta(minutes=1))
    unanswered_while_thulium_is_down(thulium, scheduled, "left")
    sent = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)

    page = logged_in.get(scheduled.get_absolute_url()).content.decode()

    said = page.split('data-testid="left-unanswered">')[1].split("</div>")[0]
    until = shown_time(sent.created_at + UNREACHABLE_WAIT)
    assert said == (f"Thulium has not answered whether it made this change, and the portal's "
                    f"time for asking it ended at {until}: the worker's next round asks it "
                    f"once more, and does not send the change again; with no answer then, "
                    f"the change ends failed and the one who scheduled it gets an e-mail.")
    assert due_changes_apply(worker="worker-2") == [scheduled.pk]
    scheduled.refresh_from_db()
    assert (scheduled.state, scheduled.sent_change.detail) == (State.FAILED, NOT_TOLD)
    assert Notice.objects.filter(kind="scheduled-change-not-applied", user=user).count() == 1
    assert len(api_calls(thulium, "PUT")) == 1


def test_a_change_a_worker_sends_now_shows_only_being_applied(scheduled, logged_in, thulium):
    """A call begun within a claim's lease may still be answered: nothing is said of it."""
    unanswered_while_thulium_is_down(thulium, scheduled, "lost")
    due_changes_apply(worker="worker-2")
    scheduled.refresh_from_db()
    assert scheduled.state == State.APPLYING

    page = logged_in.get(scheduled.get_absolute_url()).content.decode()
    listed = logged_in.get(reverse("campaigns:scheduled")).content.decode()

    assert 'data-testid="sent-change"' not in page
    assert 'data-testid="left-unanswered"' not in page + listed


@pytest.mark.parametrize("item, result", [
    ({"active": False, "parameters": {"caller_id": 221234567}}, True),
    ({"active": "0", "parameters": {"caller_id": "221234567"}}, False),
    ({"active": False}, None),
    ({"parameters": {"caller_id": "221234567"}}, None),
])
def test_what_thulium_holds_is_compared_as_it_may_write_it_back(item, result):
    assert holds(item, {"active": False, "parameters": {"caller_id": "221234567"}}) is result


def test_a_risky_scheduled_change_is_confirmed_first_with_its_time_shown(
    logged_in, sales, thulium
):
    response = edit(logged_in, sales, dialer="predictive", apply_at=ahead(),
                    reason="From ten", confirmed=None)
    assert response.status_code == 200 and not ScheduledChange.objects.exists()
    assert 'data-testid="confirm-when"' in response.content.decode()
    confirmation = form_values(response, "base")
    assert logged_in.post(reverse("campaigns:edit", args=["00001"]),
                          {**confirmation, "confirmed": "1"}).status_code == 302
    assert ScheduledChange.objects.get().changes == {"dialer": "predictive"}
    assert api_calls(thulium, "PUT") == []


@pytest.mark.parametrize("how", ["deactivated", "role taken", "deleted"])
def test_a_change_whose_author_may_no_longer_edit_is_cancelled_not_sent(scheduled, user,
                                                                        logged_in, thulium,
                                                                        how):
    """Unticking Active stops someone at once (docs/operations.md), their changes waiting
    for their time too: the worker does not send them under their name."""
    url = reverse("campaigns:scheduled_change", args=[scheduled.pk])
    assert 'data-testid="author-gone"' not in logged_in.get(url).content.decode()
    stop_editing(user, how)
    due(scheduled)
    assert due_changes_apply() == [scheduled.pk]
    assert api_calls(thulium, "PUT") == []
    scheduled.refresh_from_db()
    assert scheduled.state == State.CANCELLED
    step = Entry.objects.filter(kind=SCHEDULED_CHANGE.slug).latest("pk")
    assert (step.details["step"], step.actor_id, step.actor_username) == (
        ScheduleStep.CANCELLED, None, WORKER)  # the worker's doing, not the author's
    assert "may no longer change campaigns" in step.details["note"]


def test_a_waiting_change_says_before_its_time_that_it_will_not_be_sent(scheduled, user, sales,
                                                                       second_editor):  # noqa: F811
    stop_editing(user, "deactivated")
    client = Client()
    client.force_login(second_editor)
    pages = [reverse("campaigns:scheduled"), sales.get_absolute_url(),
             reverse("campaigns:scheduled_change", args=[scheduled.pk])]
    for page in pages:
        assert 'data-testid="author-gone"' in client.get(page).content.decode(), page


def waiting_by_others(sales, count: int, start: int = 0) -> list[ScheduledChange]:
    """`count` changes waiting, each by an editor of its own (the list once asked each)."""
    now = timezone.now()
    authors = [make_user(f"editor{i}", EDITORS) for i in range(start, start + count)]
    return ScheduledChange.objects.bulk_create(
        ScheduledChange(campaign=sales, changes={"order": i}, reason="r",
                        apply_at=now + datetime.timedelta(hours=1, minutes=i),
                        created_by=author, created_by_username=author.username)
        for i, author in enumerate(authors, start))


def test_the_lists_of_changes_waiting_ask_who_may_change_once_not_per_change(
    logged_in, sales
):
    def queries_of(page: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert logged_in.get(page).content.decode().count('data-testid="author-gone"') == 1
        return len(queries)

    stop_editing(waiting_by_others(sales, 6)[0].created_by, "role taken")
    pages = [reverse("campaigns:scheduled"), sales.get_absolute_url()]
    logged_in.get(pages[0])  # the session saved once
    few = {page: queries_of(page) for page in pages}
    waiting_by_others(sales, 30, start=6)
    assert {page: queries_of(page) for page in pages} == few


def test_changes_waiting_come_a_page_at_a_time_and_the_campaign_page_shows_the_first(
    logged_in, sales, campaigns
):
    changes = waiting_by_others(sales, WAITING_PER_PAGE + 2)
    page = logged_in.get(sales.get_absolute_url())
    assert [c.pk for c in page.context["first_waiting"]] == [c.pk for c in changes[:5]]
    everything = f"{reverse('campaigns:scheduled')}?campaign=00001"
    assert f"All {WAITING_PER_PAGE + 2} changes waiting for this campaign" in (
        page.content.decode()) and everything in page.content.decode()

    listed = logged_in.get(everything)
    assert [c.pk for c in listed.context["waiting"]] == [c.pk for c in changes[:WAITING_PER_PAGE]]
    assert "?campaign=00001&amp;page=2" in listed.content.decode()
    second = logged_in.get(everything, {"page": 2}).context["waiting"]
    assert [c.pk for c in second] == [c.pk for c in changes[WAITING_PER_PAGE:]]
    other = logged_in.get(reverse("campaigns:scheduled"), {"campaign": "00002"})
    assert list(other.context["waiting"]) == []


@pytest.mark.parametrize("campaign", ["\x00", "0000\x00", "x" * 300, "nope!", "99999"])
def test_changes_waiting_of_a_campaign_no_one_has_is_not_found(logged_in, campaigns, campaign):
    # PostgreSQL refused to compare a NUL, and the page answered 500.
    page = logged_in.get(reverse("campaigns:scheduled"), {"campaign": campaign})
    assert page.status_code == 404


def test_a_time_in_the_hour_the_clocks_repeat_says_which_of_the_two():
    """02:30 comes twice on 2027-10-31 in Warsaw: a scheduled change's pages, its note and
    its entry's summary (all written by these) say CEST or CET."""
    first = datetime.datetime(2027, 10, 31, 0, 30, tzinfo=datetime.UTC)  # 02:30 CEST
    second = first + datetime.timedelta(hours=1)  # 02:30 CET
    assert shown_minute(first).endswith("02:30 CEST")
    assert shown_minute(second).endswith("02:30 CET")
    assert shown_time(first + datetime.timedelta(seconds=5)).endswith("02:30:05 CEST")
    assert shown_minute(second + datetime.timedelta(hours=1)).endswith("03:30")
    assert (shown_short_time(first), shown_short_time(second)) == ("2027-10-31 02:30 CEST",
                                                                    "2027-10-31 02:30 CET")


def test_two_changes_an_hour_apart_in_the_repeated_hour_are_told_apart_in_the_lists(
        logged_in, sales):
    """Each given with its offset, they were taken and both listed as "2027-10-31 02:30"."""
    for offset, name in (("+02:00", "Summer"), ("+01:00", "Winter")):
        assert edit(logged_in, sales, name=name,
                    apply_at=f"2027-10-31T02:30{offset}").status_code == 302

    for page in (reverse("campaigns:scheduled"), sales.get_absolute_url()):
        text = logged_in.get(page).content.decode()
        assert "2027-10-31 02:30 CEST" in text and "2027-10-31 02:30 CET" in text, page
    polish = logged_in.get(reverse("campaigns:scheduled"), HTTP_ACCEPT_LANGUAGE="pl")
    assert "31.10.2027 02:30 CEST" in polish.content.decode()


def test_a_request_made_in_the_repeated_hour_is_listed_with_its_zone(requested_at_ten,
                                                                     logged_in):
    ChangeRequest.objects.update(created_at=datetime.datetime(2027, 10, 31, 1, 30,
                                                              tzinfo=datetime.UTC))
    assert "2027-10-31 02:30 CET" in logged_in.get(reverse("campaigns:requests")).content.decode()


def test_a_change_whose_campaign_was_deleted_in_thulium_is_cancelled_not_sent(
        scheduled, thulium):
    thulium.state.remove_campaign("00001")
    campaigns_sync()
    due(scheduled)
    assert due_changes_apply() == [scheduled.pk]
    assert api_calls(thulium, "PUT") == []
    scheduled.refresh_from_db()
    assert scheduled.state == State.CANCELLED
    assert "no longer in Thulium" in scheduled.cancel_reason


def test_a_change_found_held_keeps_what_was_saved_to_its_campaign_meanwhile(scheduled, thulium):
    """The check of a lost answer saved the campaign's settings as its worker had loaded them
    when it claimed the change: an order saved meanwhile (a read, another change) was lost."""
    call = dead_worker_left(scheduled, sent=True)
    change = ScheduledChange.objects.select_related("campaign").get(pk=scheduled.pk)
    campaign = Campaign.objects.get(pk=change.campaign_id)
    campaign.settings_replace({**campaign.settings, "order": 7})
    campaign.save(update_fields=["settings", "version"])

    assert _held(change, call) is True

    campaign.refresh_from_db()
    assert (campaign.settings["active"], campaign.settings["order"]) == (False, 7)
    assert campaign.version == change.campaign.version
