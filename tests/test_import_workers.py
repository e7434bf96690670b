"""Real workers, killed mid-import with SIGKILL: nothing lost, nothing sent twice; stopped
with SIGTERM: they hand their rows back and end at once; and a task loop the database
failed under runs again, as docs/operations.md says of every step.

Run once with each task backend: the database one, and RQ on the real Redis.
"""

import logging
import os
import signal
import threading
from collections import Counter
from datetime import timedelta
from itertools import count

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.db.models import F
from django_tasks_db.management.commands.db_worker import Worker

from audit.models import Entry, Outcome
from imports.management.commands import run_worker
from imports.management.commands.run_worker import RqTaskLoop, tasks_run_until_stopped
from imports.models import ImportJob, ImportRow, RowState
from imports.resuming import imports_resume_stalled, task_waiting
from imports.services import import_confirm, import_enqueue
from imports.shutdown import worker_stopping
from tests.conftest import LATE, records_sent
from tests.import_files import csv_bytes, people, previewed
from tests.workers import (
    DB_BACKEND,
    REDIS_URL,
    RQ_BACKEND,
    WORKER_SETTINGS,
    Workers,
    finished,
    require_redis,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)
ROWS = 240
CONCURRENCY = 4  # tests.workers.WORKER_SETTINGS, as is a batch size of 10
BATCH = "/api/batch/outbounds/00001/records"


@pytest.fixture
def backend(request, settings):
    """The task backend under test (database unless parametrized), here and in the workers."""
    name = getattr(request, "param", "database")
    if name == "rq":
        require_redis()
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()  # only the tests' own database
        settings.TASKS = {"default": RQ_BACKEND}
        settings.RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": -1}}
    else:
        settings.TASKS = {"default": DB_BACKEND}
    settings.TASK_BACKEND = name
    return name


@pytest.fixture
def workers(thulium, tmp_path, backend):
    started = Workers(thulium, backend, tmp_path)
    yield started
    started.stop_all()


@pytest.fixture
def sales(campaigns):
    return campaigns["00001"]


def batches_after_four_held(thulium, monkeypatch) -> threading.Event:
    """Hold the batches sent after the first four until the test sets the event it gets:
    a worker, left alone, sends the rest of an import before a test that a loaded machine
    stalled acts on what it saw of the first ones."""
    take, batches, go_on = thulium.state.take_fault, count(1), threading.Event()

    def held_after_four(path, method=None):
        if path == BATCH and next(batches) > 4:
            go_on.wait(60)
        return take(path, method)

    monkeypatch.setattr(thulium.state, "take_fault", held_after_four)
    return go_on


def posts_by_phone(sandbox):
    # A POST cut off by the kill reaches the sandbox as a broken body: it added nothing.
    return Counter(record["phone_number"] for record in records_sent(sandbox))


@pytest.mark.parametrize("backend", ["database", "rq"], indirect=True)
def test_a_killed_worker_resumes_without_losing_or_resending_a_row(
    logged_in, sales, thulium, workers, monkeypatch
):
    thulium.state.latency = 0.03
    # Thulium's answers are awaited long enough for the kill to land while one is.
    workers.env["THULIUM_TIMEOUT"] = "30"
    # The rest of the import took some 0.3 s once 40 rows were added: a test stalled that
    # long queued the fault below after the last batch, and waited for one never to come.
    fault_queued = batches_after_four_held(thulium, monkeypatch)
    job = previewed(logged_in, sales, csv_bytes(people(ROWS)))
    import_confirm(job=job)
    first = workers.start()
    wait_until(lambda: ImportRow.objects.filter(job=job, state=RowState.ADDED).count() >= 40,
               workers=workers, what="the first worker to add 40 records")
    # The next batch is stored by Thulium, its answer held back: killed in the middle of it.
    thulium.state.fail_next("timeout", path=BATCH, delay=LATE)
    fault_queued.set()
    wait_until(lambda: thulium.state.faults_queued == 0, workers=workers,
               what="a batch whose answer is held back")
    workers.kill(first)
    assert thulium.state.wait_timed_out()  # stored before the next worker asks, however late
    # What the dead worker left: rows it knew Thulium had added, rows it held.
    added_before = set(ImportRow.objects.filter(job=job, state=RowState.ADDED)
                       .values_list("phone_number", flat=True))
    held = set(ImportRow.objects.filter(job=job, state=RowState.SENDING)
               .values_list("phone_number", flat=True))
    assert ImportJob.objects.get(pk=job.pk).state == ImportJob.State.RUNNING
    assert 40 <= len(added_before) < ROWS

    # What the dead worker held made as old as the workers' lease, rather than waited for
    # (some 1.5 s): an import and rows not renewed within it are taken over, those renewed
    # within it left to their worker (tests/test_import_resume.py, test_import_batches.py).
    lease = timedelta(seconds=float(WORKER_SETTINGS["IMPORT_LEASE_SECONDS"]))
    assert ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=F("heartbeat_at") - lease)
    assert ImportRow.objects.filter(job=job, state=RowState.SENDING).update(
        lease_until=F("lease_until") - lease) == len(held)
    workers.start()
    wait_until(finished(job), workers=workers, what="the second worker to finish the import")

    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE, workers.logs()
    stored = Counter(r["phone_number"] for r in thulium.state.records("00001"))
    assert stored == Counter({phone: 1 for phone in (p for p, *_ in people(ROWS))})
    # Nothing was sent twice: the held rows Thulium had stored were found there.
    assert posts_by_phone(thulium) == Counter({phone: 1 for phone, *_ in people(ROWS)})
    assert 10 <= len(held) <= 3 * CONCURRENCY * 10
    found = Entry.objects.filter(kind="record-check", results__found=True)
    assert found.count() >= 10  # at least the batch killed in the middle
    assert {check.sent["phone_number"] for check in found} <= held
    states = Counter(ImportRow.objects.filter(job=job).values_list("state", flat=True))
    assert states[RowState.ADDED] == ROWS, states
    assert not Entry.objects.filter(outcome=Outcome.PENDING).exists()
    assert job.receipt.results["added"] == ROWS


def test_a_worker_asked_to_stop_hands_its_rows_back_and_ends(logged_in, sales, thulium, workers,
                                                              settings, monkeypatch):
    """After one SIGTERM a worker sent the whole import (minutes for 100,000 rows), and
    Docker's SIGKILL ten seconds later cut it off mid-call."""
    rows = 1000
    thulium.state.latency = 0.3  # 25 s for the whole import
    stopped = batches_after_four_held(thulium, monkeypatch)  # stopped mid-import, surely
    job = previewed(logged_in, sales, csv_bytes(people(rows)))
    import_confirm(job=job)
    first = workers.start()
    wait_until(lambda: ImportRow.objects.filter(job=job, state=RowState.ADDED).count() >= 40,
               workers=workers, what="the first worker to add 40 records")
    os.kill(first.pid, signal.SIGTERM)  # what `docker compose stop` sends
    stopped.set()
    assert workers.exit_code(first) == 0, workers.logs()

    states = Counter(ImportRow.objects.filter(job=job).values_list("state", flat=True))
    assert set(states) == {RowState.ADDED, RowState.QUEUED}, states
    assert ImportJob.objects.get(pk=job.pk).state == ImportJob.State.RUNNING
    assert not Entry.objects.filter(outcome=Outcome.PENDING).exists()
    assert "rows handed back" in workers.log(first)
    settings.IMPORT_LEASE_SECONDS = float(WORKER_SETTINGS["IMPORT_LEASE_SECONDS"])
    # Taken by the next worker at once: handed to a new task by this look, or by the look
    # for stalled imports that the stopping worker ran after it handed its rows back.
    imports_resume_stalled()
    assert task_waiting(ImportJob.objects.get(pk=job.pk).task_id)

    thulium.state.latency = 0  # slow only for the stop to come mid-import: the rest at once
    workers.start()
    wait_until(finished(job), workers=workers, what="a new worker to finish the import")
    assert posts_by_phone(thulium) == Counter({phone: 1 for phone, *_ in people(rows)})
    states = Counter(ImportRow.objects.filter(job=job).values_list("state", flat=True))
    assert states == {RowState.ADDED: rows}
    assert ImportJob.objects.get(pk=job.pk).receipt.results["added"] == rows


def test_two_workers_on_one_import_never_send_the_same_row(logged_in, sales, thulium, workers):
    thulium.state.latency = 0.03
    job = previewed(logged_in, sales, csv_bytes(people(ROWS)))
    import_confirm(job=job)
    import_enqueue(job.pk)  # a second task for the same import
    # No answer until both workers send at once: one alone has CONCURRENCY rows in flight.
    # Only now, or the preview's own call waited in the gathering till its timeout, and
    # counted among those in flight.
    thulium.state.gather(2 * CONCURRENCY)
    both = [workers.start(), workers.start()]
    wait_until(finished(job), workers=workers, what="the workers to finish the import")
    assert thulium.state.gathered, "the two workers never sent rows at the same time"
    assert posts_by_phone(thulium) == Counter({p: 1 for p, *_ in people(ROWS)})
    assert ImportRow.objects.filter(job=job, state=RowState.ADDED).count() == ROWS
    assert all("thulium POST batch/outbounds/00001/records" in workers.log(w) for w in both)


def test_a_worker_checks_the_rows_of_a_file_too_large_to_check_at_once(
    logged_in, sales, workers, settings
):
    content = csv_bytes(people(30))
    settings.IMPORT_CHECK_INLINE_BYTES = len(content) - 1
    job = previewed(logged_in, sales, content)  # the mapping is sent; a worker checks it
    assert job.state == ImportJob.State.CHECKING
    workers.start()
    wait_until(lambda: ImportJob.objects.get(pk=job.pk).state == ImportJob.State.PREVIEWED,
               workers=workers, what="a worker to check the rows")
    job.refresh_from_db()
    assert (job.rows_total, job.rows_valid) == (30, 30)
    assert ImportRow.objects.filter(job=job, state=RowState.QUEUED).count() == 30


def test_the_task_loop_the_database_failed_under_runs_again_and_is_logged(
        monkeypatch, caplog, settings):
    """It ended the whole worker: the documented alert on a failed step never fired, and
    imports waited for someone to restart it."""
    settings.IMPORT_HEARTBEAT_SECONDS = 0.01
    runs = []

    class TaskLoop:
        running = True

        def run(self):
            runs.append(1)
            if len(runs) <= 3:
                raise OperationalError("connection to server at 127.0.0.1 failed")

    with caplog.at_level(logging.WARNING):
        tasks_run_until_stopped(TaskLoop())
    assert len(runs) == 4
    # The same failure again is a line, not a traceback each heartbeat.
    assert caplog.text.count("the worker's tasks step failed; it runs again in 0.01s") == 1
    assert "the worker's tasks step failed again, 2 times in a row since" in caplog.text


def test_a_stop_asked_for_before_the_database_failed_is_not_forgotten(monkeypatch, settings):
    """A new task loop replaced the one the database failed under, and with it the SIGTERM
    that one had heard: the worker went on."""
    settings.IMPORT_HEARTBEAT_SECONDS = 0.01
    settings.TASK_BACKEND = "database"
    monkeypatch.setattr(run_worker, "background_loops", lambda worker_id: [])
    monkeypatch.setattr(Worker, "configure_signals", lambda loop: None)
    runs = []

    def run(loop):
        runs.append(1)
        if len(runs) == 1:  # SIGTERM while a task runs, then the database goes away
            loop.running_task = True
            loop.shutdown(signal.SIGTERM, None)
            loop.running_task = False
            raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(Worker, "run", run)
    try:
        call_command("run_worker")
    finally:
        worker_stopping.clear()
    assert len(runs) == 1



def test_an_rq_worker_whose_command_channel_was_left_ends_at_once(backend):
    """Once in a few stops, RQ's worker outlived `docker compose stop`'s grace: after its
    unsubscribe, the thread listening for commands waited 60 s for a subscription before
    it saw the stop, and the worker waited for it."""
    require_redis()
    import redis

    loop = RqTaskLoop(["default"], connection=redis.Redis.from_url(REDIS_URL))
    loop.subscribe()
    wait_until(lambda: loop.pubsub.subscribed, workers=None, what="the subscription")
    # The listening thread reads the unsubscribe's answer before it is told to stop, as
    # when the stop comes at that moment.
    loop.pubsub.unsubscribe()
    wait_until(lambda: not loop.pubsub.subscribed, workers=None, what="the unsubscribe")
    ending = threading.Thread(target=loop.unsubscribe, daemon=True)
    ending.start()
    ending.join(timeout=20)
    assert not ending.is_alive(), "the worker still waits for its command channel's thread"
