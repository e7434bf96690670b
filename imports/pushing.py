"""Sending an import's rows to Thulium, so that no row is lost and none is sent twice.

One worker's push has one database thread and IMPORT_CONCURRENCY sending threads:

- The database thread claims rows (queued ones, or ones whose lease ran out) with
  SELECT ... FOR UPDATE SKIP LOCKED, so two workers never hold the same row, and in the
  same transaction writes the rows' pending audit entries (`record_add_begin_all`, one
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
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from audit.models import Entry, Outcome
from audit.recording import error_values, outcome_values
from portal.thulium import ThuliumAuthFailed, ThuliumError, ThuliumRefused, ThuliumUnavailable
from records.services import (
    added_values,
    record_add_begin_all,
    record_add_complete_all,
    record_add_post,
    records_added_earlier,
)

from .duplicates import says_already_exists
from .models import ImportAttempt, ImportJob, ImportRow, RowState
from .progress import row_counts
from .receipts import receipt_write

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
                earlier = Attempts()
                if row.state == RowState.SENDING:  # a dead worker's row
                    earlier = read_attempts(row)
                    if earlier.state:
                        settled.append(Sent(row, earlier.state, entry=earlier.last))
                        continue
                if self.stopping.is_set():
                    settled.append(Sent(row, _unsent(earlier)))
                    continue
                to_begin.append((row, earlier.unanswered))
            if to_begin:
                additions = record_add_begin_all(
                    campaign=self.job.campaign, payloads=[row.payload for row, _ in to_begin],
                    actor=self.job.actor,
                )
                ImportAttempt.objects.bulk_create(
                    ImportAttempt(row=row, entry=addition)
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
        completions = [completion for sent in done for completion in sent.completions]
        with transaction.atomic():
            if completions:
                record_add_complete_all(completions)
            _store([sent for sent in done if sent.crash is None], self.worker)
        for sent in done:
            if sent.crash is not None:
                raise sent.crash

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
        """A sending thread: begun sends in; what became of them out, for the database
        thread to store."""
        try:
            while (item := self.to_send.get()) is not None:
                row, addition, unanswered = item
                sent = Sent(row)
                try:
                    self.send(sent, addition, unanswered)
                except Exception as error:  # a bug or the database: fail the task, below
                    sent.crash = error
                self.sent.put(sent)
        finally:
            connection.close()

    def send(self, sent: "Sent", addition: Entry, unanswered: bool) -> None:
        """POST the row, retrying what may pass later; its final state from the last answer,
        and each attempt's entry with its outcome, go into `sent`."""
        sent.entry = addition
        if self.stopping.is_set():
            sent.completions.append((addition, outcome_values(outcome=Outcome.FAILED,
                                                              detail=NOT_SENT)))
            sent.state = RowState.UNKNOWN if unanswered else RowState.NOT_SENT
            return
        sent.state = self.post_retrying(sent, addition, unanswered)

    def post_retrying(self, sent: "Sent", addition: Entry, unanswered: bool) -> str:
        """The row's final state after sending it, again while Thulium may pass later."""
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
                        addition = sent.entry = self.begin_again(sent.row)
                    try:
                        record_id = self.post(addition)
                    except ThuliumError as error:
                        sent.completions.append((addition, error_values(error)))
                        unanswered = unanswered or error.outcome == Outcome.UNKNOWN
                        raise
                    sent.completions.append((addition, added_values(record_id)))
        except ThuliumRefused as error:
            return _refusal(error.messages or [error.detail], unanswered)
        except ThuliumAuthFailed as error:
            self.stop(_("Thulium did not accept the portal's API credentials: %(detail)s")
                      % {"detail": error.detail})
            return RowState.FAILED
        except ThuliumError:
            return RowState.UNKNOWN if unanswered else RowState.FAILED
        return RowState.ADDED

    def begin_again(self, row) -> Entry:
        with transaction.atomic():
            (addition,) = record_add_begin_all(campaign=self.job.campaign,
                                               payloads=[row.payload], actor=self.job.actor)
            ImportAttempt.objects.create(row=row, entry=addition)
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


@dataclass
class Sent:
    """What became of a row handed to a sender: its final state, and each attempt's entry
    with its outcome, for the database thread to store together."""

    row: ImportRow
    state: str = ""
    entry: Entry | None = None  # the last attempt's
    completions: list[tuple[Entry, dict]] = field(default_factory=list)
    crash: Exception | None = None  # a bug or the database: the task fails with it


@dataclass(frozen=True)
class Attempts:
    """What earlier sends of a row tell (see read_attempts)."""

    state: str = ""  # the row's final state, if they settle it
    unanswered: bool = False  # whether a send went unanswered
    last: Entry | None = None  # the last send's entry


def read_attempts(row: ImportRow) -> Attempts:
    """What a dead worker's sends of a row tell.

    A send still pending was cut off: it is completed as unknown.
    """
    attempts = [attempt.entry for attempt in
                row.attempts.select_related("entry").order_by("entry__created_at")]
    cut_off = [entry for entry in attempts if entry.outcome == Outcome.PENDING]
    if cut_off:
        record_add_complete_all([
            (entry, outcome_values(outcome=Outcome.UNKNOWN, detail=INTERRUPTED))
            for entry in cut_off
        ])
    if not attempts:
        return Attempts()
    *earlier, last = attempts
    unanswered = any(entry.outcome == Outcome.UNKNOWN for entry in earlier)
    if last.outcome == Outcome.SUCCEEDED:
        return Attempts(RowState.ADDED, False, last)
    if last.outcome == Outcome.REFUSED:
        return Attempts(_refusal(last.messages or [last.detail], unanswered), unanswered, last)
    return Attempts("", unanswered or last.outcome == Outcome.UNKNOWN, last)


def _unsent(earlier: Attempts) -> str:
    """The state of a row a cancel leaves unsent: unknown if a send went unanswered."""
    if earlier.unanswered:
        return RowState.UNKNOWN
    return RowState.NOT_SENT if earlier.last is None else RowState.FAILED


def _refusal(messages: list[str], unanswered: bool) -> str:
    """A refusal is final; after an unanswered send, a duplicate one means it had landed."""
    if unanswered and says_already_exists(messages):
        return RowState.ADDED_EARLIER
    return RowState.REFUSED


def _store(results: list[Sent], worker: str) -> None:
    """Write rows' final states, one UPDATE per state, for the rows this worker still holds."""
    now = timezone.now()
    stored = 0
    for state in {sent.state for sent in results}:
        stored += ImportRow.objects.filter(
            pk__in=[sent.row.pk for sent in results if sent.state == state],
            state=RowState.SENDING, claimed_by=worker,
        ).update(state=state, finished_at=now, claimed_by="", lease_until=None)
    records_added_earlier([sent.entry for sent in results
                           if sent.state == RowState.ADDED_EARLIER and sent.entry])
    if stored < len(results):
        # This worker stalled past its lease and another took rows over; that one reads
        # these sends' audit entries and settles the rows itself.
        log.warning("import %s: %d rows were taken over before their state was stored",
                    results[0].row.job_id, len(results) - stored)


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
        receipt_write(job, row_counts(job))
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
