"""Sending an import's rows to Thulium, so that no row is lost and none is sent twice.

- A row is claimed before it is sent: one UPDATE takes queued rows (or rows whose lease
  ran out) for one thread of one worker, so two workers never hold the same row.
- Each send goes through `records.services.record_add`: its pending audit row and the
  row's ImportAttempt link commit before the POST, so a crash leaves evidence.
- A live worker renews its leases every IMPORT_HEARTBEAT_SECONDS. Rows of a worker that
  died are taken over once their lease ran out, and their attempts are read first: a row
  Thulium accepted is settled as added, never sent again; an unanswered one is resent,
  and a duplicate refusal of that resend means the first send landed (added earlier).
- Timeouts, connection errors and 5xx are retried with backoff (tenacity); refusals never.
"""

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from portal.auditing import Outcome
from portal.thulium import ThuliumAuthFailed, ThuliumError, ThuliumRefused, ThuliumUnavailable
from records.services import record_add

from .duplicates import says_already_exists
from .models import ImportAttempt, ImportJob, ImportRow, RowState
from .services import receipt_write

log = logging.getLogger(__name__)
# Rows one thread claims at a time: few, so a dying worker strands few.
CLAIM_SIZE = 2
INTERRUPTED = "The import's worker stopped before Thulium's answer was recorded."


def import_push(job_id: int) -> None:
    """Send the import's queued rows until none is left, then write its receipt."""
    now = timezone.now()
    if not ImportJob.objects.filter(
        pk=job_id, state__in=(ImportJob.State.QUEUED, ImportJob.State.RUNNING)
    ).update(state=ImportJob.State.RUNNING, heartbeat_at=now):
        return  # finished, cancelled before it started, or unknown
    ImportJob.objects.filter(pk=job_id, started_at=None).update(started_at=now)
    job = ImportJob.objects.select_related("campaign", "actor").get(pk=job_id)
    push = _Push(job)
    log.info("import %s: worker %s sending", job.pk, push.worker)
    heartbeat = threading.Thread(target=push.beat, name=f"import-{job.pk}-heartbeat")
    heartbeat.start()
    try:
        with ThreadPoolExecutor(settings.IMPORT_CONCURRENCY,
                                thread_name_prefix=f"import-{job.pk}") as pool:
            for done in [pool.submit(push.work, index)
                         for index in range(settings.IMPORT_CONCURRENCY)]:
                done.result()  # a bug in a thread must fail the task, not vanish
    finally:
        push.finished.set()
        heartbeat.join()
    _finish(job)


@dataclass
class _Verdict:
    state: str
    record_id: str = ""
    message: str = ""
    request_id: str = ""


class _Push:
    """One worker's sending of one import: its threads share the stop signal and the pace."""

    def __init__(self, job: ImportJob):
        self.job = job
        self.worker = uuid.uuid4().hex[:16]
        self.finished = threading.Event()
        # Set on a cancel or when Thulium refuses the credentials: rows are settled unsent.
        self.stopping = threading.Event()
        self.pace = _Pace(settings.IMPORT_RATE_LIMIT)

    # --- threads ------------------------------------------------------------------

    def work(self, index: int) -> None:
        """One sending thread: claim a few rows, push them, until none is left."""
        owner = f"{self.worker}-{index}"
        try:
            while True:
                rows = self.claim(owner)
                if not rows:
                    if not _unsettled(self.job).exists():
                        return
                    # Rows still held by another thread or worker: wait for their end
                    # or for their lease to run out.
                    time.sleep(min(1.0, settings.IMPORT_HEARTBEAT_SECONDS))
                    continue
                for row in rows:
                    self.settle(row, owner)
        finally:
            connection.close()

    def beat(self) -> None:
        """Renew this worker's leases and the job's heartbeat; hear a cancel."""
        try:
            while not self.finished.wait(settings.IMPORT_HEARTBEAT_SECONDS):
                now = timezone.now()
                ImportRow.objects.filter(
                    job=self.job, state=RowState.SENDING, claimed_by__startswith=self.worker
                ).update(lease_until=now + lease_duration())
                ImportJob.objects.filter(pk=self.job.pk).update(heartbeat_at=now)
                job = ImportJob.objects.only("cancel_requested_at", "stop_reason").get(
                    pk=self.job.pk)
                if job.cancel_requested_at or job.stop_reason:
                    self.stopping.set()
        finally:
            connection.close()

    # --- claiming -----------------------------------------------------------------

    def claim(self, owner: str) -> list[ImportRow]:
        """Take up to CLAIM_SIZE claimable rows for `owner` in one transaction."""
        now = timezone.now()
        claimable = Q(state=RowState.QUEUED) | Q(state=RowState.SENDING, lease_until__lt=now)
        with transaction.atomic():
            # SKIP LOCKED (PostgreSQL) lets concurrent claimers pass each other; SQLite
            # serialises the whole transaction instead (see the IMMEDIATE mode in settings).
            picked = list(
                ImportRow.objects.filter(claimable, job=self.job)
                .order_by("number").select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:CLAIM_SIZE]
            )
            if not picked:
                return []
            ImportRow.objects.filter(claimable, pk__in=picked).update(
                state=RowState.SENDING, claimed_by=owner, lease_until=now + lease_duration()
            )
        return list(ImportRow.objects.filter(job=self.job, state=RowState.SENDING,
                                             claimed_by=owner).order_by("number"))

    # --- one row ------------------------------------------------------------------

    def settle(self, row: ImportRow, owner: str) -> None:
        """Bring a claimed row to its final state, sending it if that is still right."""
        unanswered, last = False, None
        if row.sends:
            verdict, unanswered, last = self.read_attempts(row)
            if verdict:
                _store(row, owner, verdict)
                return
        if self.stopping.is_set():
            if last is None:
                verdict = _Verdict(RowState.NOT_SENT)
            else:
                verdict = _Verdict(RowState.UNKNOWN if unanswered else RowState.FAILED, "",
                                   "; ".join(last.messages) or last.detail, last.request_id)
        else:
            verdict = self.send(row, unanswered)
        _store(row, owner, verdict)

    def read_attempts(self, row: ImportRow):
        """What a row's earlier sends tell, when a worker died before settling it.

        Returns (the verdict if they settle it, whether a send went unanswered, the last
        send's audit row). A send still pending was cut off: it is completed as unknown.
        """
        attempts = [attempt.addition for attempt in
                    row.attempts.select_related("addition").order_by("addition__created_at")]
        for addition in attempts:
            if addition.outcome == Outcome.PENDING:
                addition.complete(outcome=Outcome.UNKNOWN, detail=INTERRUPTED)
        if not attempts:
            return None, False, None
        *earlier, last = attempts
        unanswered = any(addition.outcome == Outcome.UNKNOWN for addition in earlier)
        if last.outcome == Outcome.SUCCEEDED:
            return _Verdict(RowState.ADDED, last.record_id, "", last.request_id), False, last
        if last.outcome == Outcome.REFUSED:
            return _refusal(last.messages or [last.detail], last.request_id, unanswered), \
                unanswered, last
        return None, unanswered or last.outcome == Outcome.UNKNOWN, last

    def send(self, row: ImportRow, earlier_unanswered: bool) -> _Verdict:
        """POST the row, retrying what may pass later; the verdict of the last answer."""
        unanswered = earlier_unanswered
        retrying = Retrying(
            retry=retry_if_exception_type(ThuliumUnavailable),
            stop=stop_after_attempt(settings.IMPORT_RETRY_ATTEMPTS),
            # Workers of several imports back off out of step with each other.
            wait=wait_exponential_jitter(multiplier=settings.IMPORT_RETRY_WAIT,
                                         jitter=settings.IMPORT_RETRY_WAIT,
                                         max=settings.IMPORT_RETRY_MAX_WAIT),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    try:
                        addition = self.post(row)
                    except ThuliumUnavailable as error:
                        unanswered = unanswered or error.outcome == Outcome.UNKNOWN
                        raise
        except ThuliumRefused as error:
            return _refusal(error.messages or [error.detail], error.request_id, unanswered)
        except ThuliumAuthFailed as error:
            self.stop(_("Thulium did not accept the portal's API credentials: %(detail)s")
                      % {"detail": error.detail})
            return _failure(error, RowState.FAILED)
        except ThuliumError as error:
            return _failure(error, RowState.UNKNOWN if unanswered else RowState.FAILED)
        return _Verdict(RowState.ADDED, addition.record_id, "", addition.request_id)

    def post(self, row: ImportRow):
        self.pace.wait()

        def link(addition):
            ImportAttempt.objects.create(row=row, addition=addition)
            ImportRow.objects.filter(pk=row.pk).update(sends=F("sends") + 1)

        with override(self.job.language or None):
            return record_add(campaign=self.job.campaign, payload=row.payload,
                              actor=self.job.actor, language=self.job.language or None,
                              on_begin=link)

    def stop(self, reason: str) -> None:
        """Stop every worker of this import: the rest of its rows are settled unsent."""
        ImportJob.objects.filter(pk=self.job.pk, stop_reason="").update(stop_reason=reason)
        self.stopping.set()
        log.warning("import %s stopped: %s", self.job.pk, reason)


def _refusal(messages: list[str], request_id: str, unanswered: bool) -> _Verdict:
    """A refusal is final; after an unanswered send, a duplicate one means it had landed."""
    state = RowState.REFUSED
    if unanswered and says_already_exists(messages):
        state = RowState.ADDED_EARLIER
    return _Verdict(state, "", "; ".join(messages), request_id)


def _failure(error: ThuliumError, state: str) -> _Verdict:
    return _Verdict(state, "", "; ".join(error.messages) or error.detail, error.request_id)


def _store(row: ImportRow, owner: str, verdict: _Verdict) -> None:
    """Write the row's final state, if this thread still holds it."""
    stored = ImportRow.objects.filter(pk=row.pk, state=RowState.SENDING, claimed_by=owner).update(
        state=verdict.state, record_id=verdict.record_id, message=verdict.message,
        request_id=verdict.request_id, finished_at=timezone.now(), claimed_by="",
        lease_until=None,
    )
    if not stored:
        # The lease ran out (this worker stalled) and another worker took the row over;
        # it reads this send's audit row and settles the row itself.
        log.warning("import %s row %s: lease lost before storing %s",
                    row.job_id, row.number, verdict.state)


def _unsettled(job: ImportJob):
    return ImportRow.objects.filter(job=job, state__in=(RowState.QUEUED, RowState.SENDING))


def _finish(job: ImportJob) -> None:
    """Turn the job final and write its receipt, once, when no row is left unsettled."""
    if _unsettled(job).exists():
        return  # another worker still holds rows; it finishes the job
    job.refresh_from_db()
    if job.stop_reason:
        final = ImportJob.State.STOPPED
    elif job.cancel_requested_at:
        final = ImportJob.State.CANCELLED
    else:
        final = ImportJob.State.DONE
    now = timezone.now()
    with transaction.atomic():
        if not ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.RUNNING).update(
            state=final, finished_at=now
        ):
            return
        job.state, job.finished_at = final, now
        receipt_write(job)
    log.info("import %s %s", job.pk, final)


def lease_duration() -> timedelta:
    return timedelta(seconds=settings.IMPORT_LEASE_SECONDS)


class _Pace:
    """At most `per_second` sends a second across one worker's threads (0: no limit)."""

    def __init__(self, per_second: float):
        self.interval = 1 / per_second if per_second > 0 else 0.0
        self.lock = threading.Lock()
        self.next_at = time.monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            at = max(self.next_at, now)
            self.next_at = at + self.interval
        time.sleep(at - now)
