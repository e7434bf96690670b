"""Imports whose workers died are handed to a live worker, once, and only those."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from imports.models import ImportJob
from imports.pushing import database_now
from imports.resuming import imports_resume_stalled
from imports.services import import_confirm, import_enqueue
from tests.import_files import csv_bytes, people, previewed

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(logged_in, campaigns):
    return previewed(logged_in, campaigns["00001"], csv_bytes(people(3)))


def pushes_of(job):
    return DBTaskResult.objects.filter(task_path="imports.tasks.push_import",
                                       args_kwargs__args=[job.pk]).count()


def left_since(job, state, minutes):
    ImportJob.objects.filter(pk=job.pk).update(
        state=state, heartbeat_at=timezone.now() - timedelta(minutes=minutes))


def test_a_watched_import_whose_workers_died_gets_one_new_worker(logged_in, job):
    left_since(job, ImportJob.State.RUNNING, minutes=5)
    for _watch in range(3):
        assert logged_in.get(reverse("imports:progress", args=[job.pk])).status_code == 200
    assert pushes_of(job) == 1
    job.refresh_from_db()
    assert job.heartbeat_at > timezone.now() - timedelta(minutes=1)


def test_a_running_import_with_a_live_worker_is_left_alone(job, settings):
    left_since(job, ImportJob.State.RUNNING, minutes=0)
    assert imports_resume_stalled() == []
    assert pushes_of(job) == 0


def test_a_live_worker_is_judged_by_the_databases_clock_not_this_machines(job, monkeypatch):
    """A machine whose clock ran a lease ahead of the worker's took its import for
    abandoned, and gave it a second worker."""
    left_since(job, ImportJob.State.RUNNING, minutes=0)
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(minutes=5))
    assert imports_resume_stalled() == []
    assert pushes_of(job) == 0


def test_a_queued_import_waiting_behind_others_is_not_queued_twice(job):
    import_enqueue(job.pk)
    left_since(job, ImportJob.State.QUEUED, minutes=5)
    assert imports_resume_stalled() == []
    assert pushes_of(job) == 1


def test_a_queued_import_whose_worker_died_at_its_start_is_queued_again(job):
    import_enqueue(job.pk)
    # A worker took the task, then died before the import itself started.
    DBTaskResult.objects.update(status=TaskResultStatus.RUNNING)
    left_since(job, ImportJob.State.QUEUED, minutes=5)
    assert imports_resume_stalled() == [job.pk]
    assert pushes_of(job) == 2


def test_an_import_whose_task_waits_for_a_worker_is_queued_once_and_says_so(logged_in, job):
    """Watched with no worker running, a stalled import got one more task each lease (and
    said "running"); the one it was given waits in the queue: the page says so."""
    progress = reverse("imports:progress", args=[job.pk])
    left_since(job, ImportJob.State.RUNNING, minutes=5)
    # Queued again by this very look, whose answer is of the import as it found it.
    assert logged_in.get(progress).json()["waiting"] is False
    left_since(job, ImportJob.State.RUNNING, minutes=5)  # and no worker took it since

    assert logged_in.get(progress).json()["waiting"] is True
    assert pushes_of(job) == 1
    page = logged_in.get(job.get_absolute_url()).content.decode()
    warning = page.split('data-testid="waiting-for-a-worker"', 1)[1].split(">", 1)[0]
    assert "hidden" not in warning


def test_an_import_is_said_to_wait_by_the_databases_clock_not_the_web_machines(
    logged_in, job, monkeypatch
):
    """A web machine whose clock ran a minute ahead of the database's told of every import
    a worker was sending that it waited for one."""
    real_now = timezone.now

    def web_clock(minutes):
        monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(minutes=minutes))

    def waiting():
        return logged_in.get(reverse("imports:progress", args=[job.pk])).json()["waiting"]

    web_clock(-1)
    assert import_confirm(job=job)  # confirmed on a machine a minute behind
    web_clock(0)
    assert waiting() is False
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING,
                                               heartbeat_at=database_now(job.pk))
    web_clock(+1)
    assert waiting() is False


def test_an_import_a_worker_is_sending_is_not_said_to_wait(logged_in, job):
    import_enqueue(job.pk)
    DBTaskResult.objects.update(status=TaskResultStatus.RUNNING)
    left_since(job, ImportJob.State.RUNNING, minutes=0.5)
    assert logged_in.get(reverse("imports:progress", args=[job.pk])).json()["waiting"] is False
