"""`manage.py run_worker`: a background worker for the task backend in settings.

Besides running tasks, it runs steps of other apps over and over, each in a thread of its
own (`run_every`): it hands imports whose worker died to a live worker, every
IMPORT_HEARTBEAT_SECONDS, so a killed import resumes once any worker runs; sends
scheduled campaign changes when they are due (campaigns/due.py), and marks outdated the
four-eyes requests whose time passed unapproved (campaigns.four_eyes); finishes the campaign
changes and approvals a dead web process left unanswered (campaigns.unanswered) and checks
in Thulium the record additions a dead page left (records.unanswered); sends the e-mail notices
and clears old ones (notices.sending); clears the personal data of imports ended
IMPORT_KEEP_DAYS before (imports.retention), the do-not-call entries expired
DONOTCALL_KEEP_DAYS before (donotcall.services), old login records and expired sessions
(portal.login_records); verifies the audit trail every AUDIT_VERIFY_HOURS;
and, with WORKER_METRICS_PORT set, answers Prometheus on that port
(portal.metrics.worker_page).

The first SIGTERM (`docker compose stop`) ends it gracefully: no new task starts, and an
import being sent hands its unsent rows back and lets its calls in flight end
(imports.shutdown), within seconds; the second ends it at once.
"""

import logging
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from django.conf import settings
from django.core.management import BaseCommand, CommandError, call_command
from django.db import DatabaseError, connection, connections
from django.utils.crypto import get_random_string
from django_tasks_db.compat import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME
from django_tasks_db.management.commands.db_worker import Worker
from rq.worker import SimpleWorker

from audit.verify import chain_check_if_due
from campaigns.due import due_changes_apply
from campaigns.four_eyes import change_requests_expire
from campaigns.unanswered import approved_requests_finish, unanswered_changes_finish
from donotcall.services import suppressions_clear_expired
from imports.resuming import imports_resume_stalled
from imports.retention import imports_clear_expired
from imports.shutdown import worker_stopping
from notices.sending import notices_purge, notices_send_due
from portal.login_records import login_log_clear, sessions_clear
from portal.metrics.worker_page import worker_metrics_serve
from records.unanswered import unanswered_additions_check

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run background tasks (bulk imports) with the configured backend."

    def add_arguments(self, parser):
        parser.add_argument("--worker-id", default=None, help="a name unique among workers")

    def handle(self, *args, worker_id, **options):
        if settings.WORKER_METRICS_PORT:
            try:
                worker_metrics_serve(settings.WORKER_METRICS_PORT)
            except OSError as error:  # taken by another process, or not this user's to open
                raise CommandError(f"WORKER_METRICS_PORT {settings.WORKER_METRICS_PORT} "
                                   f"cannot be opened: {error.strerror or error}.") from None
        for loop in background_loops(worker_id or ""):
            threading.Thread(target=run_every, kwargs=loop, name=loop["name"],
                             daemon=True).start()
        if settings.TASK_BACKEND == "rq":
            # RQ's jobs of django-tasks need its Job class; SimpleWorker runs them in this
            # process, so stopping the worker stops its import too.
            call_command("rqworker", "default", job_class="django_tasks_rq.Job",
                         worker_class=f"{__name__}.RqTaskLoop", name=worker_id)
        else:
            task_loop = TaskLoop(
                queue_names=[DEFAULT_TASK_QUEUE_NAME], excluded_queue_names=[], interval=0.5,
                batch=False, backend_name=DEFAULT_TASK_BACKEND_ALIAS, startup_delay=False,
                max_tasks=None, worker_id=worker_id or get_random_string(32))
            task_loop.configure_signals()
            tasks_run_until_stopped(task_loop)


class TaskLoop(Worker):
    """The database backend's task loop (its `db_worker` command), which also tells the
    imports it runs to stop on the first signal."""

    def shutdown(self, signum, frame):
        worker_stopping.set()
        super().shutdown(signum, frame)


class RqTaskLoop(SimpleWorker):
    """RQ's worker running tasks in this process, which also tells the imports it runs to
    stop on the first signal."""

    # How long the thread listening for RQ's commands waits in one read. RQ gives 60 s:
    # once the worker's end unsubscribed it, that thread waited so long for a subscription
    # before it saw the stop (redis-py's PubSubWorkerThread), and the worker, joining it,
    # outlived `docker compose stop`'s grace once in a few stops.
    COMMANDS_READ_SECONDS = 1

    def request_stop(self, signum, frame):
        worker_stopping.set()
        super().request_stop(signum, frame)

    def subscribe(self):
        """RQ's own (rq 3.0), but for the thread's read."""
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=self.COMMANDS_READ_SECONDS, daemon=True,
            exception_handler=self._pubsub_exception_handler)


def tasks_run_until_stopped(task_loop: Worker) -> None:
    """Run the database backend's task loop until it stops (a signal asks it to); a loop
    the database failed under (gone, restarted, its connection cut) is logged as a step
    that failed, and runs again on new connections, as the periodic steps do: it ended
    the whole worker. A task it was running is taken over as any dead worker's is. The
    same loop runs again, so a stop asked for before the failure still holds."""
    failures = StepFailures("tasks")
    while True:
        started = time.monotonic()
        try:
            task_loop.run()
            return
        except DatabaseError:
            if not task_loop.running:
                return  # asked to stop: the failure cut that short
            if time.monotonic() - started > settings.IMPORT_LEASE_SECONDS:
                failures.forget()  # it ran a while: this failure starts a new outage
            # A heartbeat later, as the step handing imports on to live workers.
            wait = settings.IMPORT_HEARTBEAT_SECONDS
            failures.failed(wait)
            connections.close_all()
            time.sleep(wait)


def background_loops(worker_id: str) -> list[dict]:
    """The steps the worker runs over and over, as `run_every`'s arguments."""
    loops = [
        # At once, then every heartbeat: an import left by a dead worker waits no longer.
        {"name": "resume-imports",
         "step": _logged(imports_resume_stalled, "resumed stalled imports %s"),
         "seconds": settings.IMPORT_HEARTBEAT_SECONDS},
        {"name": "scheduled-changes",
         "step": _logged(lambda: due_changes_apply(worker=worker_id),
                         "scheduled changes finished: %s"),
         "seconds": settings.SCHEDULE_POLL_SECONDS},
        {"name": "expire-change-requests",
         "step": _logged(change_requests_expire, "change requests outdated unapproved: %s"),
         "seconds": settings.SCHEDULE_POLL_SECONDS},
        {"name": "finish-unanswered-changes",
         "step": _logged(unanswered_changes_finish,
                         "campaign changes left unanswered by a dead process: %s"),
         "seconds": settings.SCHEDULE_POLL_SECONDS},
        {"name": "check-unanswered-additions",
         "step": _logged(unanswered_additions_check,
                         "record additions left unanswered by a dead process, checked: %s"),
         "seconds": settings.SCHEDULE_POLL_SECONDS},
        {"name": "finish-approved-requests",
         "step": _logged(approved_requests_finish,
                         "approved change requests left by a dead process: %s"),
         "seconds": settings.SCHEDULE_POLL_SECONDS},
        {"name": "send-notices", "step": notices_send_due,
         "seconds": settings.NOTICES_POLL_SECONDS},
        {"name": "clear-notices", "step": notices_purge, "seconds": 3600},
        {"name": "clear-imports",
         "step": _logged(imports_clear_expired, "cleared the personal data of imports %s"),
         "seconds": 3600},
        {"name": "clear-donotcall",
         "step": _logged(suppressions_clear_expired,
                         "deleted %s do-not-call entries expired long ago"),
         "seconds": 3600},
        {"name": "clear-logins",
         "step": _logged(login_log_clear, "cleared %s login records"), "seconds": 3600},
        {"name": "clear-sessions", "step": sessions_clear, "seconds": 3600},
    ]
    if settings.AUDIT_VERIFY_HOURS > 0:
        # Every ten minutes, the first ten minutes after the start: a worker would
        # otherwise walk a long log before its first task whenever a check was due.
        loops.append({"name": "verify-audit", "seconds": 600, "first_wait": 600,
                      "step": lambda: chain_check_if_due(settings.AUDIT_VERIFY_HOURS)})
    return loops


def run_every(*, name: str, step: Callable[[], object], seconds: float,
              first_wait: float = 0.0) -> None:
    """Run `step` every `seconds`, for ever: a thread of the worker.

    A step that fails (the database, Thulium or the mail server away for a while) is
    logged and tried again at the next turn, on a new database connection: the thread
    must outlive any outage.
    """
    time.sleep(first_wait)
    failures = StepFailures(name)
    while True:
        try:
            step()
        except Exception:
            failures.failed(seconds)
            connection.close()
        else:
            failures.ended()
        time.sleep(seconds)


class StepFailures:
    """A step's failures in a row, as the log tells them: the first with its traceback, as
    an ERROR; the same failure again as a line at the 2nd, 4th, 8th... turn (an outage of
    hours wrote a traceback every few seconds from each step, and buried what else
    happened); the step's first run after them says they ended."""

    def __init__(self, name: str):
        self.name = name
        self.count = 0
        self.since = ""
        self.last = ""

    def failed(self, seconds: float) -> None:
        """Log the failure being handled (in an `except` block)."""
        error = sys.exc_info()[1]
        told = f"{type(error).__name__}: {error}".strip()
        self.count += 1
        if self.count == 1:
            self.since = datetime.now(UTC).isoformat(timespec="seconds")
        if told != self.last:
            self.last = told
            log.exception("the worker's %s step failed; it runs again in %ss", self.name, seconds)
        elif self.count & (self.count - 1) == 0:
            log.warning("the worker's %s step failed again, %d times in a row since %s (%s); "
                        "it runs again in %ss", self.name, self.count, self.since,
                        told.splitlines()[0], seconds)

    def ended(self) -> None:
        """The step ran without failing: say so if it had failed before."""
        if self.count:
            log.warning("the worker's %s step ran again, after %d failures in a row since %s",
                        self.name, self.count, self.since)
            self.forget()

    def forget(self) -> None:
        """Take the next failure for the first of a new outage."""
        self.count, self.last = 0, ""


def _logged(step: Callable[[], list], message: str) -> Callable[[], None]:
    """The step, telling what it did when it did something."""

    def logged():
        if done := step():
            log.info(message, done)

    return logged
