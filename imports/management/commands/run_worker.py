"""`manage.py run_worker`: a background worker for the task backend in settings.

Besides running tasks, it hands imports whose worker died to a live worker, every
IMPORT_HEARTBEAT_SECONDS, so a killed import resumes once any worker runs; sends
scheduled campaign changes when they are due (campaigns/due.py); sends the e-mail notices
(notices.sending); verifies the audit trail every AUDIT_VERIFY_HOURS; and, with
WORKER_METRICS_PORT set, answers Prometheus on that port (portal.metrics.worker_page).
"""

import logging
import threading
import time

from django.conf import settings
from django.core.management import BaseCommand, call_command
from django.db import connection

from audit.verify import chain_check_if_due
from campaigns.due import run_forever as apply_due_changes
from imports.resuming import imports_resume_stalled
from notices.sending import notices_send_forever
from portal.metrics.worker_page import worker_metrics_serve

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run background tasks (bulk imports) with the configured backend."

    def add_arguments(self, parser):
        parser.add_argument("--worker-id", default=None, help="a name unique among workers")

    def handle(self, *args, worker_id, **options):
        if settings.WORKER_METRICS_PORT:
            worker_metrics_serve(settings.WORKER_METRICS_PORT)
        watchdog = threading.Thread(target=self._resume_stalled, name="resume-imports",
                                    daemon=True)
        watchdog.start()
        threading.Thread(target=apply_due_changes, args=(worker_id or "",),
                         name="scheduled-changes", daemon=True).start()
        threading.Thread(target=notices_send_forever, name="send-notices", daemon=True).start()
        threading.Thread(target=_verify_audit, name="verify-audit", daemon=True).start()
        if settings.TASK_BACKEND == "rq":
            # RQ's jobs of django-tasks need its Job class; SimpleWorker runs them in this
            # process, so stopping the worker stops its import too.
            call_command("rqworker", "default", job_class="django_tasks_rq.Job",
                         worker_class="rq.worker.SimpleWorker", name=worker_id)
        else:
            extra = {"worker_id": worker_id} if worker_id else {}
            call_command("db_worker", reload=False, interval=0.5, startup_delay=False,
                         **extra)

    def _resume_stalled(self):
        while True:
            time.sleep(settings.IMPORT_HEARTBEAT_SECONDS)
            try:
                resumed = imports_resume_stalled()
            except Exception:  # the database may be away for a while; try again later
                log.exception("could not look for stalled imports")
                connection.close()
                continue
            if resumed:
                log.info("resumed stalled imports %s", resumed)


def _verify_audit():
    """Every ten minutes, verify the audit trail if its last check is due."""
    while settings.AUDIT_VERIFY_HOURS > 0:
        time.sleep(600)
        try:
            chain_check_if_due(settings.AUDIT_VERIFY_HOURS)
        except Exception:  # the database may be away for a while; try again later
            log.exception("could not verify the audit trail")
            connection.close()
