"""Finding imports whose workers died, and handing them to a live worker.

A worker killed mid-import (or mid-check of a large file's rows) leaves its job running
(or checking) with a heartbeat that stops moving; the task backends do not run such a
task again by themselves. Every worker therefore looks for stale jobs (`manage.py
run_worker` does so every heartbeat), and so does the progress page of an import someone
is watching.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Now
from django_tasks import TaskResultStatus, default_task_backend
from django_tasks.exceptions import TaskResultDoesNotExist

from .models import ImportJob
from .pushing import database_now, lease_duration
from .services import import_enqueue

log = logging.getLogger(__name__)
# The states in which a worker renews an import's heartbeat.
_WORKED_ON = (ImportJob.State.QUEUED, ImportJob.State.RUNNING, ImportJob.State.CHECKING)


def imports_resume_stalled() -> list[int]:
    """Enqueue a push (or a check) for every import left by its workers; returns their ids."""
    jobs = ImportJob.objects.filter(stalled())
    return [job.pk for job in jobs if import_resume_if_stalled(job)]


def stalled() -> Q:
    """What an import no worker renewed within a lease matches: its worker died, none runs,
    or (queued) it waits for one busy with another import."""
    return Q(state__in=_WORKED_ON, heartbeat_at__lt=_stale())


def import_resume_if_stalled(job: ImportJob) -> bool:
    """Enqueue a push (or the check of its rows) if no worker renewed the job within a
    lease; True if enqueued."""
    if job.state not in _WORKED_ON or job.heartbeat_at is None:
        return False
    stalled = ImportJob.objects.filter(pk=job.pk, heartbeat_at=job.heartbeat_at,
                                       heartbeat_at__lt=_stale())
    if not stalled.exists():
        return False
    if task_waiting(job.task_id):
        # Its task is in the queue behind others, or one given it earlier waits for a
        # worker to run at all: nothing was lost, and one more task would run it twice.
        return False
    # Only the caller that moves the heartbeat on enqueues: two watchers make one task.
    if not stalled.update(heartbeat_at=database_now(job.pk)):
        return False
    log.warning("import %s: no worker for %ss, handing it to a new one", job.pk,
                settings.IMPORT_LEASE_SECONDS)
    import_enqueue(job.pk)
    return True


def _stale():
    """Heartbeats older than this are of dead workers: in the database's time, which the
    pushes write them in (imports.pushing.database_now)."""
    return Now() - lease_duration()


def task_waiting(task_id: str) -> bool:
    """Whether the import's last task is still in the queue, taken by no worker yet."""
    if not task_id:
        return False
    try:
        return default_task_backend.get_result(task_id).status == TaskResultStatus.READY
    except TaskResultDoesNotExist:
        return False


def worker_awaited(job: ImportJob) -> bool:
    """Whether the import's task has waited a heartbeat or more for a worker to take it:
    none runs, or all are busy with other imports. (Not at once: a worker takes a task
    within a second.) In the database's time, which heartbeats are written in: a web
    machine's clock a minute ahead said every import a worker was sending waited."""
    waited = Now() - timedelta(seconds=settings.IMPORT_HEARTBEAT_SECONDS)
    return (ImportJob.objects.filter(pk=job.pk, heartbeat_at__lt=waited).exists()
            and task_waiting(job.task_id))
