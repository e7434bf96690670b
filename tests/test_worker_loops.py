"""The worker's background loops (`run_worker`): each step runs over and over, at its
pace, and a step that fails is logged and tried again, never ending its thread."""

import logging

import pytest

from imports.management.commands import run_worker
from imports.management.commands.run_worker import background_loops, run_every
from notices.sending import notices_purge, notices_send_due
from portal.login_records import sessions_clear


class _LoopEnds(BaseException):
    """Ends an endless loop in a test (an Exception would be caught and logged)."""


class _Clock:
    """The loop's `time`: each sleep moves it on; the `turns`-th sleep ends the loop."""

    def __init__(self, turns: int):
        self.now, self.sleeps, self.turns = 0.0, 0, turns

    def sleep(self, seconds):
        self.now, self.sleeps = self.now + seconds, self.sleeps + 1
        if self.sleeps == self.turns:
            raise _LoopEnds


class _Connection:
    closed = 0

    def close(self):
        self.closed += 1


@pytest.fixture
def clock(monkeypatch):
    clock = _Clock(turns=100)
    monkeypatch.setattr(run_worker, "time", clock)
    return clock


def test_a_step_runs_at_its_pace_and_a_failure_is_logged_and_tried_again(
    clock, monkeypatch, caplog
):
    connection = _Connection()
    monkeypatch.setattr(run_worker, "connection", connection)
    runs = []

    def step():
        runs.append(clock.now)
        if len(runs) in (2, 3):  # the database away for two turns
            raise OSError("the database went away")

    with pytest.raises(_LoopEnds), caplog.at_level(logging.ERROR):
        run_every(name="send-notices", step=step, seconds=5.0, first_wait=60.0)

    assert runs == [60.0 + 5.0 * n for n in range(99)]  # the first after its wait
    failures = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert [record.getMessage() for record in failures] == [
        "the worker's send-notices step failed; it runs again in 5.0s"]
    assert "the database went away" in failures[0].exc_text
    assert connection.closed == 2  # the next turn opens a new one


def test_an_outage_is_one_traceback_then_a_line_now_and_then_and_its_end_is_told(
    clock, monkeypatch, caplog
):
    """A database away for hours wrote a traceback every few seconds from each step."""
    monkeypatch.setattr(run_worker, "connection", _Connection())
    runs = []

    def step():
        runs.append(1)
        if len(runs) <= 20:
            raise OSError("connection refused")
        if len(runs) == 21:
            raise ValueError("a bug")

    with pytest.raises(_LoopEnds), caplog.at_level(logging.INFO):
        run_every(name="clear-sessions", step=step, seconds=5.0)

    told = [(record.levelname, record.getMessage().split(" since ")[0], bool(record.exc_info))
            for record in caplog.records]
    failed = "the worker's clear-sessions step failed; it runs again in 5.0s"
    again = "the worker's clear-sessions step failed again, {} times in a row"
    assert told == [
        ("ERROR", failed, True),
        *(("WARNING", again.format(count), False) for count in (2, 4, 8, 16)),
        ("ERROR", failed, True),  # another failure: its traceback
        ("WARNING", "the worker's clear-sessions step ran again, after 21 failures in a row",
         False),
    ]
    assert "(OSError: connection refused); it runs again in 5.0s" in caplog.records[1].message


def test_the_worker_runs_each_apps_step_at_its_pace(settings, monkeypatch, caplog):
    settings.IMPORT_HEARTBEAT_SECONDS, settings.SCHEDULE_POLL_SECONDS = 7, 11
    settings.NOTICES_POLL_SECONDS = 13
    settings.AUDIT_VERIFY_HOURS = 24
    asked = []
    monkeypatch.setattr(run_worker, "due_changes_apply",
                        lambda *, worker: asked.append(worker) or [41, 42])
    monkeypatch.setattr(run_worker, "imports_resume_stalled", lambda: [])
    monkeypatch.setattr(run_worker, "chain_check_if_due", asked.append)
    monkeypatch.setattr(run_worker, "imports_clear_expired", lambda: [7])
    monkeypatch.setattr(run_worker, "login_log_clear", lambda: 3)
    monkeypatch.setattr(run_worker, "suppressions_clear_expired", lambda: 2)
    monkeypatch.setattr(run_worker, "change_requests_expire", lambda: [5])
    monkeypatch.setattr(run_worker, "unanswered_changes_finish", lambda: [9])
    monkeypatch.setattr(run_worker, "unanswered_additions_check", lambda: [10])
    monkeypatch.setattr(run_worker, "approved_requests_finish", lambda: [4])
    loops = {loop["name"]: loop for loop in background_loops("worker-a")}

    assert {name: (loop["seconds"], loop.get("first_wait", 0)) for name, loop in
            loops.items()} == {
        "resume-imports": (7, 0), "scheduled-changes": (11, 0),
        "expire-change-requests": (11, 0), "finish-unanswered-changes": (11, 0),
        "check-unanswered-additions": (11, 0), "finish-approved-requests": (11, 0),
        "send-notices": (13, 0),
        "clear-notices": (3600, 0), "clear-imports": (3600, 0), "clear-donotcall": (3600, 0),
        "clear-logins": (3600, 0),
        "clear-sessions": (3600, 0), "verify-audit": (600, 600)}
    with caplog.at_level(logging.INFO, logger=run_worker.__name__):
        loops["scheduled-changes"]["step"]()
        loops["expire-change-requests"]["step"]()
        loops["finish-unanswered-changes"]["step"]()
        loops["check-unanswered-additions"]["step"]()
        loops["finish-approved-requests"]["step"]()
        loops["resume-imports"]["step"]()
        loops["verify-audit"]["step"]()
        loops["clear-imports"]["step"]()
        loops["clear-donotcall"]["step"]()
        loops["clear-logins"]["step"]()
    assert asked == ["worker-a", 24]  # the worker's id; the hours between checks
    assert loops["send-notices"]["step"] is notices_send_due
    assert loops["clear-notices"]["step"] is notices_purge
    assert loops["clear-sessions"]["step"] is sessions_clear
    # What a step did is told; a step that did nothing says nothing.
    assert [record.getMessage() for record in caplog.records] == [
        "scheduled changes finished: [41, 42]", "change requests outdated unapproved: [5]",
        "campaign changes left unanswered by a dead process: [9]",
        "record additions left unanswered by a dead process, checked: [10]",
        "approved change requests left by a dead process: [4]",
        "cleared the personal data of imports [7]",
        "deleted 2 do-not-call entries expired long ago",
        "cleared 3 login records"]

    settings.AUDIT_VERIFY_HOURS = 0  # never verified by the worker
    assert "verify-audit" not in {loop["name"] for loop in background_loops("")}
