"""Sending an import's rows to Thulium, so that no row is lost and none is sent twice.

One worker's push has one database thread and IMPORT_CONCURRENCY sending threads:

- The database thread claims rows (queued ones, or ones whose lease ran out) with
  SELECT ... FOR UPDATE SKIP LOCKED, so two workers never hold the same row, and in the
  same transaction writes the rows' pending RecordAdditions (`record_add_begin_all`, one
  step of the audit chain for the batch) and their ImportAttempt links: the evidence
  exists before anything is sent.
- A sending thread POSTs one begun addition (`record_add_post`), retrying timeouts,
  connection errors and 5xx with backoff (tenacity); a refusal is never retried. Only
  these threads talk to Thulium, so at most IMPORT_CONCURRENCY requests are in flight.
  Only a retry makes them write (its new attempt): the chain's head would make them queue.
- The database thread stores, in one transaction per batch of ended sends, their audit
  rows' outcomes and the rows' final states; it renews its leases every
  IMPORT_HEARTBEAT_SECONDS and hears a cancel. Rows of a worker that died are taken
  over once their lease ran out, and their attempts are read first: a row Thulium
  accepted is settled as added, never sent again; an unanswered one is resent, and a
  duplicate refusal of that resend means the first send landed (added earlier).
"""

import logging
import queue
import threading
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from portal.auditing import Outcome
from portal.thulium import ThuliumAuthFailed, ThuliumError, ThuliumRefused, ThuliumUnavailable
from records.models import RecordAddition
from records.services import record_add_begin, record_add_begin_all, record_add_post

from .duplicates import says_already_exists
from .models import ImportAttempt, ImportJob, ImportRow, RowState
from .services import receipt_write

log = logging.getLogger(__name__)
INTERRUPTED = "The import's worker stopped before Thulium's answer was recorded."
NOT_SENT = "Not sent: the import was cancelled or stopped first."
GATHER_SECONDS = 0.05


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
    push.run()
    _finish(job)


class _Push:
    """One worker's sending of one import."""

    def __init__(self, job: ImportJob):
        self.job = job
        self.worker = uuid.uuid4().hex[:16]
        self.slots = settings.IMPORT_CONCURRENCY
        # Set on a cancel, or when Thulium refuses the credentials: nothing more is sent.
        self.stopping = threading.Event()
        self.pace = _Pace(settings.IMPORT_RATE_LIMIT)
        self.to_send = queue.Queue()
        self.sent = queue.Queue()
        self.in_flight = 0
        self.next_beat = 0.0

    # --- the database thread ------------------------------------------------------

    def run(self) -> None:
        senders = [threading.Thread(target=self.sender, name=f"import-{self.job.pk}-{index}")
                   for index in range(self.slots)]
        for sender in senders:
            sender.start()
        try:
            self.loop()
        except BaseException:
            self.stopping.set()  # the rows already handed over are then not sent
            raise
        finally:
            for _sender in senders:
                self.to_send.put(None)
            for sender in senders:
                sender.join()

    def loop(self) -> None:
        while True:
            self.beat_if_due()
            if self.stopping.is_set():
                _unsettled(self.job).filter(state=RowState.QUEUED).update(
                    state=RowState.NOT_SENT, finished_at=timezone.now())
                self.claim(self.slots)  # dead workers' rows, settled without sending
            elif self.in_flight <= 2 * self.slots:
                # Keep every sending thread busy with as many rows again ready behind them,
                # claiming at least a thread's worth at once: the database work of a claim
                # is mostly per batch, and the senders must not wait for it.
                self.claim(3 * self.slots - self.in_flight)
            if self.in_flight:
                self.collect()
            elif not _unsettled(self.job).exists():
                return
            else:
                # Rows still held by another worker: wait for their end or their lease.
                time.sleep(min(1.0, settings.IMPORT_HEARTBEAT_SECONDS))

    def claim(self, count: int) -> None:
        """Take up to `count` rows, begin their sends, and hand them to the senders."""
        now = timezone.now()
        ready, settled = [], []
        with transaction.atomic():
            # Dead workers' rows first, then queued ones: two queries that each follow the
            # (job, state, number) index, where one with an OR would sort the whole import.
            rows = _claimable(self.job, Q(state=RowState.SENDING, lease_until__lt=now), count)
            rows += _claimable(self.job, Q(state=RowState.QUEUED), count - len(rows))
            if not rows:
                return
            ImportRow.objects.filter(pk__in=[row.pk for row in rows]).update(
                state=RowState.SENDING, claimed_by=self.worker, lease_until=now + lease_duration()
            )
            to_begin = []
            for row in rows:
                unanswered, last = False, None
                if row.state == RowState.SENDING:  # a dead worker's row
                    verdict, unanswered, last = read_attempts(row)
                    if verdict:
                        settled.append((row, verdict))
                        continue
                if self.stopping.is_set():
                    settled.append((row, _unsent(unanswered, last)))
                    continue
                to_begin.append((row, unanswered))
            if to_begin:
                additions = record_add_begin_all(
                    campaign=self.job.campaign, payloads=[row.payload for row, _ in to_begin],
                    actor=self.job.actor,
                )
                ImportAttempt.objects.bulk_create(
                    ImportAttempt(row=row, addition=addition)
                    for (row, _), addition in zip(to_begin, additions, strict=True)
                )
                ready = [(row, addition, unanswered)
                         for (row, unanswered), addition in zip(to_begin, additions, strict=True)]
        _store(settled, self.worker)
        for item in ready:
            self.to_send.put(item)
        self.in_flight += len(ready)

    def collect(self) -> None:
        """Wait for sends to end (at most a heartbeat) and store what they tell.

        Sends are gathered for a moment, then their audit rows' outcomes and their rows'
        states are stored in one transaction: the chain's head is taken once for all, and
        a row never shows a state its audit row does not.
        """
        done = []
        try:
            done.append(self.sent.get(timeout=settings.IMPORT_HEARTBEAT_SECONDS))
            gathered_by = time.monotonic() + GATHER_SECONDS
            while len(done) < self.slots and (left := gathered_by - time.monotonic()) > 0:
                done.append(self.sent.get(timeout=left))
        except queue.Empty:
            pass
        self.in_flight -= len(done)
        completions = [completion for _row, _verdict, ends in done for completion in ends]
        with transaction.atomic():
            if completions:
                RecordAddition.complete_all(completions)
            _store([(row, verdict) for row, verdict, _ends in done if isinstance(verdict, str)],
                   self.worker)
        for _row, verdict, _ends in done:
            if isinstance(verdict, Exception):
                raise verdict

    def beat_if_due(self) -> None:
        """Renew this worker's leases and the job's heartbeat; hear a cancel."""
        if time.monotonic() < self.next_beat:
            return
        self.next_beat = time.monotonic() + settings.IMPORT_HEARTBEAT_SECONDS
        now = timezone.now()
        ImportRow.objects.filter(job=self.job, state=RowState.SENDING,
                                 claimed_by=self.worker).update(lease_until=now + lease_duration())
        ImportJob.objects.filter(pk=self.job.pk).update(heartbeat_at=now)
        job = ImportJob.objects.only("cancel_requested_at", "stop_reason").get(pk=self.job.pk)
        if job.cancel_requested_at or job.stop_reason:
            self.stopping.set()

    # --- the sending threads ------------------------------------------------------

    def sender(self) -> None:
        """A sending thread: begun sends in; rows' final states (or a crash) out, with the
        outcomes for their audit rows, which the database thread stores."""
        try:
            while (item := self.to_send.get()) is not None:
                row, addition, unanswered = item
                ends = []
                try:
                    verdict = self.send(row, addition, unanswered, ends)
                except Exception as error:  # a bug or the database: fail the task, below
                    verdict = error
                self.sent.put((row, verdict, ends))
        finally:
            connection.close()

    def send(self, row, addition, unanswered: bool, ends: list) -> str:
        """POST the row, retrying what may pass later; its final state from the last answer.

        Each attempt's audit row and outcome are added to `ends`.
        """
        if self.stopping.is_set():
            ends.append((addition, addition.outcome_values(outcome=Outcome.FAILED,
                                                           detail=NOT_SENT)))
            return RowState.UNKNOWN if unanswered else RowState.NOT_SENT
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
                    if attempt.retry_state.attempt_number > 1:
                        addition = self.begin_again(row)
                    try:
                        record_id = self.post(addition)
                    except ThuliumError as error:
                        ends.append((addition, addition.error_values(error)))
                        unanswered = unanswered or error.outcome == Outcome.UNKNOWN
                        raise
                    ends.append((addition, addition.outcome_values(
                        outcome=Outcome.SUCCEEDED, http_status=200, record_id=record_id)))
        except ThuliumRefused as error:
            return _refusal(error.messages or [error.detail], unanswered)
        except ThuliumAuthFailed as error:
            self.stop(_("Thulium did not accept the portal's API credentials: %(detail)s")
                      % {"detail": error.detail})
            return RowState.FAILED
        except ThuliumError:
            return RowState.UNKNOWN if unanswered else RowState.FAILED
        return RowState.ADDED

    def begin_again(self, row):
        with transaction.atomic():
            addition = record_add_begin(campaign=self.job.campaign, payload=row.payload,
                                        actor=self.job.actor)
            ImportAttempt.objects.create(row=row, addition=addition)
        return addition

    def post(self, addition) -> str:
        self.pace.wait()
        language = self.job.language or None
        with override(language):
            return record_add_post(addition, language=language)

    def stop(self, reason: str) -> None:
        """Stop every worker of this import: the rest of its rows are not sent."""
        ImportJob.objects.filter(pk=self.job.pk, stop_reason="").update(stop_reason=reason)
        self.stopping.set()
        log.warning("import %s stopped: %s", self.job.pk, reason)


def _claimable(job, condition, count) -> list[ImportRow]:
    """Up to `count` rows meeting `condition`, locked; rows another worker is locking are
    skipped (SKIP LOCKED on PostgreSQL; SQLite runs the whole claim alone, see settings)."""
    if count <= 0:
        return []
    return list(ImportRow.objects.filter(condition, job=job).order_by("number")
                .select_for_update(skip_locked=True)
                .only("pk", "number", "state", "payload")[:count])


def read_attempts(row: ImportRow):
    """What a dead worker's sends of a row tell.

    Returns (the row's final state if they settle it, whether a send went unanswered,
    the last send's audit row). A send still pending was cut off: completed as unknown.
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
        return RowState.ADDED, False, last
    if last.outcome == Outcome.REFUSED:
        return _refusal(last.messages or [last.detail], unanswered), unanswered, last
    return None, unanswered or last.outcome == Outcome.UNKNOWN, last


def _unsent(unanswered: bool, last) -> str:
    """The state of a row a cancel leaves unsent: unknown if a send went unanswered."""
    if unanswered:
        return RowState.UNKNOWN
    return RowState.NOT_SENT if last is None else RowState.FAILED


def _refusal(messages: list[str], unanswered: bool) -> str:
    """A refusal is final; after an unanswered send, a duplicate one means it had landed."""
    if unanswered and says_already_exists(messages):
        return RowState.ADDED_EARLIER
    return RowState.REFUSED


def _store(verdicts: list[tuple[ImportRow, str]], worker: str) -> None:
    """Write rows' final states, one UPDATE per state, for the rows this worker still holds."""
    now = timezone.now()
    stored = 0
    for state in {state for _row, state in verdicts}:
        stored += ImportRow.objects.filter(
            pk__in=[row.pk for row, verdict in verdicts if verdict == state],
            state=RowState.SENDING, claimed_by=worker,
        ).update(state=state, finished_at=now, claimed_by="", lease_until=None)
    if stored < len(verdicts):
        # This worker stalled past its lease and another took rows over; that one reads
        # these sends' audit rows and settles the rows itself.
        log.warning("import %s: %d rows were taken over before their state was stored",
                    verdicts[0][0].job_id, len(verdicts) - stored)


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
