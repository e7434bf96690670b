"""Real workers and scheduled changes: a worker killed in the middle of sending one, and two
workers looking for due changes at once; each change reaches Thulium exactly once."""

import datetime
from collections import Counter

import pytest
from django.db.models import F
from django.utils import timezone

from campaigns.due import claim_lease
from campaigns.models import ScheduledChange
from campaigns.scheduling import change_schedule
from tests.conftest import LATE, api_calls
from tests.workers import Workers, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
State = ScheduledChange.State


@pytest.fixture
def workers(thulium, tmp_path, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    started = Workers(thulium, "database", tmp_path)
    started.env["SCHEDULE_POLL_SECONDS"] = "0.2"
    yield started
    started.stop_all()


def scheduled(campaign, user, changes: dict, seconds: float) -> ScheduledChange:
    return change_schedule(campaign=campaign, changes=changes, actor=user, reason="",
                           apply_at=timezone.now() + datetime.timedelta(seconds=seconds))


def state_of(change):
    return ScheduledChange.objects.get(pk=change.pk).state


def test_a_worker_killed_while_sending_a_change_leaves_it_to_the_next_never_sent_twice(
    user, campaigns, thulium, workers, settings
):
    change = scheduled(campaigns["00001"], user, {"active": False}, seconds=1)
    # Thulium stores the PUT and keeps its answer back; the worker waits for it till killed.
    thulium.state.fail_next("timeout", path="/api/outbounds/00001", delay=LATE)
    workers.env["THULIUM_TIMEOUT"] = "30"
    first = workers.start()
    wait_until(lambda: api_calls(thulium, "PUT") and state_of(change) == State.APPLYING,
               workers=workers, seconds=60, what="the first worker to send the change")
    workers.kill(first)
    assert thulium.state.wait_timed_out()  # stored before the next worker asks, however late

    # The dead worker's claim made as old as the next worker's lease, rather than waited for
    # some 7 s: a claim older than that is taken over, a younger one left to its worker
    # (tests/test_scheduling.py). The next worker's calls are short.
    workers.env.update({"THULIUM_TIMEOUT": "0.5", "THULIUM_CONNECT_TIMEOUT": "0.5"})
    settings.THULIUM_TIMEOUT = settings.THULIUM_CONNECT_TIMEOUT = 0.5
    assert ScheduledChange.objects.filter(pk=change.pk, state=State.APPLYING).update(
        claimed_at=F("claimed_at") - claim_lease()) == 1
    workers.start()
    wait_until(lambda: state_of(change) == State.APPLIED, workers=workers, seconds=60,
               what="the second worker to finish the change")

    assert len(api_calls(thulium, "PUT")) == 1, workers.logs()
    assert thulium.state.campaign("00001")["active"] is False
    change.refresh_from_db()
    assert "found holding" in change.sent_change.detail


def test_two_workers_never_send_one_change_twice(user, campaigns, thulium, workers):
    thulium.state.latency = 0.1
    changes = [
        scheduled(campaigns[thulium_id], user, {"order": order}, seconds=3)
        for thulium_id in ("00001", "00002", "A7K2Q") for order in (11, 12)
    ]
    workers.start()
    workers.start()
    wait_until(lambda: not ScheduledChange.objects.filter(
                   state__in=(State.WAITING, State.APPLYING)).exists(),
               workers=workers, seconds=90, what="both workers to apply every change")

    puts = Counter((call["path"], call["json"]["order"]) for call in api_calls(thulium, "PUT"))
    assert puts == Counter({(f"/api/outbounds/{c.campaign.thulium_id}", c.changes["order"]): 1
                            for c in changes}), workers.logs()
    assert set(ScheduledChange.objects.values_list("state", flat=True)) == {State.APPLIED}
