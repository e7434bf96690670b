"""Sending an import's rows to Thulium, so that no row is lost and none is sent twice.

One worker's push has a database thread, IMPORT_CONCURRENCY sending threads and a
storing thread:

- The database thread claims rows (queued ones, or ones whose lease ran out) with
  SELECT ... FOR UPDATE SKIP LOCKED, so two workers never hold the same row, and in the
  same transaction writes the rows' pending audit entries (`record_add_begin_all`, one
  step of the audit chain for the claim) and their ImportAttempt links: the evidence
  exists before anything is sent. It hands them to the sending threads in batches of
  IMPORT_BATCH_SIZE rows, no two with the same number.
- A sending thread takes a batch to its rows' verdicts (imports.sending): one batch call
  per try, single POSTs when the batch size is 1 or Thulium refuses the batch call
  (imports.fallback), retries with backoff, and a check in Thulium before anything
  unanswered is sent again. Only these threads talk to Thulium, so at most
  IMPORT_CONCURRENCY calls are in flight.
- A storing thread stores, in one transaction per gathering of ended batches, their audit
  rows' outcomes and the rows' final states, on a database connection of its own: its
  work and the claims' overlap but for the chain's head, which each takes as late as it
  can. The database thread renews its leases every IMPORT_HEARTBEAT_SECONDS and hears a
  cancel. Rows of a worker that died are taken over once their lease ran out, and their
  steps are read first (`resumed`): a row Thulium accepted, or was found to hold, is
  settled, never sent again; an unanswered one is checked in Thulium before it is sent
  again.

A cancel or a stop (`stop`, or a loader who may no longer add records: imports.loaders)
leaves the rows not sent yet "not sent". A push that fails (a bug, the database) is no such
verdict: the batches no sending thread took yet are handed back, their rows left claimed
and their begun sends completed as never made, and the next push, of this worker or
another, sends them once their lease runs out.
"""

import logging
import queue
import threading
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from audit.models import Outcome
from audit.recording import outcome_values
from donotcall.lookup import blocked
from portal.db_many import update_each
from portal.phones import forget_keyed_numbers
from portal.thulium import ThuliumMethodRefused
from portal.thulium.deadline import call_longest
from records.services import record_add_complete_all, records_added_earlier

from .erasure import rows_erased
from .fallback import batch_refusal, batch_refusal_remember
from .loaders import import_stop_for_loader, loader_may_add
from .models import ImportJob, ImportRow, RowState
from .progress import row_counts
from .receipts import receipt_write
from .sending import (
    CLAIMED_FIELDS,
    NOT_BEGUN,
    AnsweredRecords,
    BatchSend,
    ClaimedRow,
    Pending,
    Sending,
    Sent,
    resumed,
    sends_begin,
    unsent_state,
)
from .shutdown import worker_stopping

log = logging.getLogger(__name__)
GATHER_SECONDS = 0.05


def import_push(job_id: int) -> None:
    """Send the import's queued rows until none is left, then write its receipt."""
    if connection.in_atomic_block:
        # The storing thread's connection would not see this one's uncommitted rows.
        raise RuntimeError("import_push must run outside any transaction: its storing "
                           "thread's connection sees only committed rows")
    now = timezone.now()
    if not ImportJob.objects.filter(
        pk=job_id, state__in=(ImportJob.State.QUEUED, ImportJob.State.RUNNING)
    ).update(state=ImportJob.State.RUNNING, heartbeat_at=database_now(job_id)):
        return  # finished, cancelled before it started, or unknown
    ImportJob.objects.filter(pk=job_id, started_at=None).update(started_at=now)
    job = ImportJob.objects.select_related("campaign", "actor").get(pk=job_id)
    push = _Push(job)
    log.info("import %s: worker %s sending", job.pk, push.worker)
    try:
        push.run()
        _finish(job)
    finally:
        forget_keyed_numbers()


class _Push:
    """One worker's sending of one import."""

    def __init__(self, job: ImportJob):
        self.job = job
        self.worker = uuid.uuid4().hex[:16]
        self.slots = settings.IMPORT_CONCURRENCY
        self.batch_size = settings.IMPORT_BATCH_SIZE
        # Set on a cancel, when Thulium refuses the credentials or the campaign, or when the
        # loader may no longer add records: nothing more is sent.
        self.stopping = threading.Event()
        # Set when the worker itself is asked to stop: rows left without a verdict go back
        # to the import for a later push (`hand_back`), rather than end unsent.
        self.handing_back = False
        # Set when the push fails (a bug, the database): the batches no sending thread took
        # yet are handed back, their rows left claimed for the next push to resume.
        self.abandoned = threading.Event()
        self.handed_back = 0  # rows handed back either way, for the log
        self.pace = _Pace(settings.IMPORT_RATE_LIMIT, self.stopping)
        self.to_send = queue.Queue()
        self.sent = queue.Queue()
        # Batches handed to the senders and not stored yet; the storing thread counts them
        # down and says so.
        self.in_flight = 0
        self.flow = threading.Condition()
        self.store_failure: BaseException | None = None
        self.next_beat = 0.0
        self.next_takeover = 0.0  # when to look again for rows of workers that died
        self.claimed_up_to = 0  # the number of the last queued row claimed
        # One POST per row: by choice (a batch size of 1), or because Thulium refused the
        # batch call (imports.fallback).
        self.single_posts = self.batch_size == 1
        self.refusal_lock = threading.Lock()
        self.answered = AnsweredRecords()  # what the checks of unanswered sends stop at
        if not self.single_posts and (refusal := batch_refusal()):
            self.single_posts = True
            self.mark_single_posts(refusal)

    # --- the database thread ------------------------------------------------------

    def run(self) -> None:
        senders = [threading.Thread(target=self.sender, name=f"import-{self.job.pk}-{index}")
                   for index in range(self.slots)]
        storer = threading.Thread(target=self.storer, name=f"import-{self.job.pk}-store")
        for thread in (*senders, storer):
            thread.start()
        failure = None
        try:
            self.loop()
        except BaseException as error:
            # Not a stop: no row is settled "not sent" for a failure of the push's own.
            failure = error
            self.abandoned.set()
            raise
        finally:
            for _sender in senders:
                self.to_send.put(None)
            for sender in senders:
                sender.join()
            self.sent.put(None)  # after the senders' last batches: those are stored too
            storer.join()
            if self.abandoned.is_set():
                # With the failure: the task backend's traceback after it names no import.
                log.error("import %s: worker %s failed (%s: %s); %d claimed rows not sent "
                          "were handed back, resumed once their lease runs out", self.job.pk,
                          self.worker, type(failure).__name__, failure, self.handed_back)

    def loop(self) -> None:
        while True:
            self.beat_if_due()
            self.hear_stop()
            self.raise_if_storing_failed()
            found = True
            if self.handing_back:
                found = False
            elif self.stopping.is_set():
                _unsettled(self.job).filter(state=RowState.QUEUED).update(
                    state=RowState.NOT_SENT, finished_at=timezone.now())
                found = self.claim(self.slots)  # dead workers' rows, settled unsent
            elif self.in_flight <= 2 * self.slots:
                # Keep every sending thread busy with as many batches again ready behind
                # them, claiming at least a thread's worth at once: the database work of a
                # claim is mostly per claim, and the senders must not wait for it.
                found = self.claim(3 * self.slots - self.in_flight)
            if self.in_flight:
                # When the claim found nothing, nothing frees a row before the next batch
                # is stored (or the heartbeat looks for dead workers' rows): claiming again
                # at once would only ask the database the same question in a loop.
                self.wait_for_stored(below=2 * self.slots + 1 if found else self.in_flight)
            elif self.handing_back:
                self.release()
                return
            elif not _unsettled(self.job).exists():
                return
            else:
                # Rows still held by another worker: wait for their end or their lease.
                time.sleep(min(1.0, settings.IMPORT_HEARTBEAT_SECONDS))

    def claim(self, batches: int) -> bool:
        """Take up to `batches` batches' worth of rows, begin their sends, and hand them to
        the senders; False if there was none to take."""
        count = batches * self.batch_size
        ready, settled = [], []
        with transaction.atomic():
            # Dead workers' rows first, then queued ones: two queries that each follow the
            # (job, state, number) index, where one with an OR would sort the whole import.
            rows = self.taken_over(count)
            rows += self.queued(count - len(rows))
            if not rows:
                return False
            # The do-not-call list again: a number put on it since the preview is not
            # begun, nor is a dead worker's row unless Thulium may hold it from a send that
            # went unanswered: that one is looked up there first, and sent no more
            # (`Pending.listed`). One lookup a claim; the batches look again just before
            # their sends (imports.sending), as a claim is made well ahead of them.
            suppressed = blocked(self.job.campaign, [row.phone_key for row in rows])
            for row in rows:
                pending = resumed(row) if row.state == RowState.SENDING else Pending(row)
                if isinstance(pending, Sent):
                    settled.append(pending)
                elif not row.phone_key:  # erased since a dead worker claimed it: not sent on
                    settled.append(Sent(row, unsent_state(pending), pending.unanswered))
                elif row.phone_key in suppressed and not pending.to_check:
                    settled.append(Sent(row, RowState.SUPPRESSED, pending.unanswered))
                elif self.stopping.is_set():
                    settled.append(Sent(row, unsent_state(pending, cut_short=True),
                                        pending.unanswered))
                else:
                    pending.listed = row.phone_key in suppressed
                    ready.append(pending)
            if to_begin := [pending for pending in ready if not pending.to_check]:
                sends_begin(self.job, to_begin)
            # Leased from the claim's end: the rows are locked until then, and a lease
            # counted from its start, under load or with thousands of a dead worker's rows
            # to read, ran out before the senders had them: another worker took them over
            # while this one sent them.
            lease_until = database_now(self.job.pk) + lease_duration()
            update_each(ImportRow, keys=["id"], columns=["state", "claimed_by", "lease_until"],
                        rows=[(RowState.SENDING, self.worker, lease_until, row.pk)
                              for row in rows])
        _store(self.job, settled, self.worker)
        batches = _batches(ready, self.batch_size)
        with self.flow:
            self.in_flight += len(batches)
        for batch in batches:
            self.to_send.put(batch)
        return True

    def taken_over(self, count: int) -> list[ClaimedRow]:
        """Rows whose lease ran out, looked for once a heartbeat: a lease lasts many
        heartbeats, and each look steps over the index entries that every row sent so far
        left under "sending"."""
        if count <= 0 or time.monotonic() < self.next_takeover:
            return []
        # Never this push's own: each is in one of its batches, whose thread may be
        # sending it. Under load its lease ran out before a beat renewed it (a claim longer
        # than a lease; a beat stepping over rows a sending thread had locked), and the
        # push took it over, found it nowhere in Thulium yet and sent it a second time.
        rows = _claimable(self.job, Q(state=RowState.SENDING, lease_until__lt=Now())
                          & ~Q(claimed_by=self.worker), count)
        if len(rows) < count:
            self.next_takeover = time.monotonic() + settings.IMPORT_HEARTBEAT_SECONDS
        return rows

    def queued(self, count: int) -> list[ClaimedRow]:
        """Queued rows, from past the last one claimed: the scan then starts where the
        queued rows are, not at the claimed ones' old index entries, which PostgreSQL keeps
        until it vacuums. Once none is left past it, from the start again, for a row
        another worker's claim had locked and then gave back."""
        if count <= 0:
            return []
        rows = _claimable(self.job, Q(state=RowState.QUEUED, number__gt=self.claimed_up_to),
                          count)
        if not rows and self.claimed_up_to:
            self.claimed_up_to = 0
            return self.queued(count)
        if rows:
            self.claimed_up_to = rows[-1].number
        return rows

    def wait_for_stored(self, *, below: int) -> None:
        """Wait until fewer than `below` batches are in flight (a heartbeat at most)."""
        with self.flow:
            self.flow.wait_for(lambda: self.in_flight < below or self.store_failure,
                               timeout=settings.IMPORT_HEARTBEAT_SECONDS)
        self.raise_if_storing_failed()

    def raise_if_storing_failed(self) -> None:
        """The push fails with what stopped the storing thread (a bug or the database); the
        rows it could not store stay claimed, and are resumed from their audit rows."""
        if self.store_failure is not None:
            raise self.store_failure

    # --- the storing thread -------------------------------------------------------

    def storer(self) -> None:
        """Ended batches in, gathered for a moment, stored in one transaction each time."""
        try:
            while (done := self.gathered()) is not None:
                self.store(done)
                with self.flow:
                    self.in_flight -= len(done)
                    self.flow.notify_all()
        except BaseException as error:  # the database, or a sender's crash: see below
            with self.flow:
                self.store_failure = error
                self.flow.notify_all()
        finally:
            connection.close()

    def gathered(self) -> list[Sending] | None:
        """The next ended batches: the first to come, and those ending soon after it; None
        when the senders are done."""
        first = self.sent.get()
        if first is None:
            return None
        done = [first]
        gathered_by = time.monotonic() + GATHER_SECONDS
        try:
            while len(done) < self.slots and (left := gathered_by - time.monotonic()) > 0:
                if (sending := self.sent.get(timeout=left)) is None:
                    self.sent.put(None)  # seen again at the next gathering
                    break
                done.append(sending)
        except queue.Empty:
            pass
        return done

    def store(self, done: list[Sending]) -> None:
        """The batches' audit rows' outcomes and their rows' states, in one transaction: a
        row never shows a state its audit row does not. The rows first: the chain's head is
        taken last, so a claim waits for it as briefly as can be."""
        completions = [completion for sending in done for completion in sending.completions]
        phone_keys = {entry_id: key for sending in done
                      for entry_id, key in sending.phone_keys.items()}
        results = [sent for sending in done if sending.crash is None for sent in sending.sent]
        with transaction.atomic():
            if self.handing_back:
                results = self.hand_back(results)
            _states_store(self.job, results, self.worker)
            # Before the chain's head, as every write to the added records: a claim writes
            # there, then takes the head; the other order could deadlock with it.
            _added_earlier_store(results)
            if completions:
                record_add_complete_all(completions, phone_keys=phone_keys)
        for sending in done:
            if sending.crash is not None:
                raise sending.crash

    def hand_back(self, results: list[Sent]) -> list[Sent]:
        """Give the rows the stop left without a verdict back to the import, in the storing
        transaction; returns the others, to store. Their begun sends were completed as not
        sent (imports.sending, `NOT_SENT`). One Thulium may hold stays "sending" with its
        lease ended: the push that takes it over asks Thulium first (`resumed`); the
        others are queued again, sent once by a later push."""
        unsent = (RowState.NOT_SENT, RowState.FAILED, RowState.UNKNOWN)
        back = [sent for sent in results if sent.state in unsent]
        mine = ImportRow.objects.filter(job=self.job, state=RowState.SENDING,
                                        claimed_by=self.worker)
        self.handed_back += mine.filter(
            pk__in=[sent.row.pk for sent in back if sent.state != RowState.UNKNOWN]
        ).update(state=RowState.QUEUED, claimed_by="", lease_until=None)
        self.handed_back += mine.filter(
            pk__in=[sent.row.pk for sent in back if sent.state == RowState.UNKNOWN]
        ).update(claimed_by="", lease_until=Now())
        return [sent for sent in results if sent.state not in unsent]

    def release(self) -> None:
        """Let another worker take the import at once: its heartbeat a lease old."""
        if now := database_now(self.job.pk):
            ImportJob.objects.filter(pk=self.job.pk, state=ImportJob.State.RUNNING).update(
                heartbeat_at=now - lease_duration())
        log.info("import %s: worker %s stopped, %d rows handed back for another push",
                 self.job.pk, self.worker, self.handed_back)

    def hear_stop(self) -> None:
        """Stop sending once a cancel or a stop was asked for, the worker is, or the loader
        may no longer add records: heard at every turn of the loop (one a claim), as a
        heartbeat lasts seconds, in which a push sends thousands of rows."""
        if worker_stopping.is_set() and not self.handing_back:
            self.handing_back = True
            self.stopping.set()  # the sending threads end after their calls in flight
        if not self.stopping.is_set() and ImportJob.objects.filter(
            Q(cancel_requested_at__isnull=False) | ~Q(stop_reason=""), pk=self.job.pk,
        ).exists():
            self.stopping.set()
        if not self.stopping.is_set() and not loader_may_add(self.job):
            import_stop_for_loader(self.job)
            self.stopping.set()
            log.warning("import %s stopped: its loader %s may no longer add records",
                        self.job.pk, self.job.actor_username)

    def still_held(self, row_ids: list[int]) -> set[int]:
        """Those of the rows this push still holds, under a lease that outlasts a call:
        asked just before they are sent, so that the call ends within their lease
        (IMPORT_LEASE_SECONDS above a call's longest time, call_longest), whatever
        became of the heartbeat. A push whose heartbeat stopped for a lease (its database
        thread failed, and a sending thread went on retrying through an outage) sent rows
        that another push had taken over, found nowhere in Thulium yet and sent too.

        A lease the heartbeat keeps far off is only read: no push may take a row over
        before it runs out (rewriting each batch's rows twice more cost the benchmark's
        PostgreSQL 4 s of 100,000 rows). A shorter one is renewed, waiting for a claim
        taking its rows over to end: that push then holds them."""
        mine = ImportRow.objects.filter(pk__in=row_ids, job=self.job, state=RowState.SENDING,
                                        claimed_by=self.worker)
        now = database_now(self.job.pk)
        if now is None:
            return set()
        lasting = set(mine.filter(lease_until__gte=now + _call_and_beat())
                      .values_list("pk", flat=True))
        if short := [pk for pk in row_ids if pk not in lasting]:
            with transaction.atomic():
                renewed = set(mine.filter(pk__in=short).order_by("pk").select_for_update()
                              .values_list("pk", flat=True))
                if renewed:
                    # The time read again, once the rows' locks are had: the claim that
                    # held them may have lasted longer than a lease, and a lease counted
                    # from before that wait would run out during the call (as in `claim`).
                    ImportRow.objects.filter(pk__in=renewed).update(
                        lease_until=database_now(self.job.pk) + lease_duration())
            lasting |= renewed
        return lasting

    def beat_if_due(self) -> None:
        """Renew this worker's leases and the job's heartbeat."""
        if time.monotonic() < self.next_beat:
            return
        self.next_beat = time.monotonic() + settings.IMPORT_HEARTBEAT_SECONDS
        now = database_now(self.job.pk)
        # Rows the storing thread is writing are stepped over, not waited for: the two
        # UPDATEs lock rows in their own orders, and PostgreSQL ends such a deadlock by
        # failing one of them, and with it the push (three times in a dozen bench runs). A
        # stored row needs no lease; one whose storing is rolled back keeps its lease, which
        # lasts many heartbeats, until the next.
        with transaction.atomic():
            mine = (ImportRow.objects.filter(job=self.job, state=RowState.SENDING,
                                             claimed_by=self.worker)
                    .select_for_update(skip_locked=True).values("pk"))
            ImportRow.objects.filter(pk__in=mine).update(lease_until=now + lease_duration())
        ImportJob.objects.filter(pk=self.job.pk).update(heartbeat_at=now)

    # --- the sending threads ------------------------------------------------------

    def sender(self) -> None:
        """A sending thread: batches of begun sends in; what became of them out, for the
        database thread to store."""
        try:
            while (batch := self.to_send.get()) is not None:
                if self.abandoned.is_set():
                    self.sent.put(self.batch_left(batch))
                    continue
                try:
                    sending = BatchSend(self, batch).run()
                except Exception as error:  # a bug or the database: fail the task, below
                    sending = Sending(crash=error)
                self.sent.put(sending)
        finally:
            connection.close()

    def batch_left(self, batch: list[Pending]) -> Sending:
        """A batch the failed push will not send: its rows stay claimed, and its begun sends
        are completed as never made, so that the push resuming them sends them without
        asking Thulium first (`resumed`)."""
        with self.flow:
            self.handed_back += len(batch)
        begun = [pending for pending in batch if pending.entry is not None]
        return Sending(
            completions=[(pending.entry, outcome_values(outcome=Outcome.FAILED,
                                                        detail=NOT_BEGUN))
                         for pending in begun],
            phone_keys={pending.entry.pk: pending.row.phone_key for pending in begun})

    def send_singly(self, error: ThuliumMethodRefused) -> None:
        """Thulium refused the batch call and single POSTs then went on: one record per
        call from now on, for this import and, for a day, the next ones."""
        if self.stopping.is_set():
            return  # the credentials or the campaign were refused: the batch call may be allowed
        with self.refusal_lock:
            if self.job.single_posts_id is None:
                self.mark_single_posts(batch_refusal() or batch_refusal_remember(error))

    def mark_single_posts(self, refusal) -> None:
        self.job.single_posts = refusal
        ImportJob.objects.filter(pk=self.job.pk).update(single_posts=refusal)
        log.warning("import %s sends one record per call: Thulium refused the batch call "
                    "(%s)", self.job.pk, refusal)

    def stop(self, reason: str) -> None:
        """Stop every worker of this import: the rest of its rows are not sent."""
        ImportJob.objects.filter(pk=self.job.pk, stop_reason="").update(stop_reason=reason)
        self.stopping.set()
        log.warning("import %s stopped: %s", self.job.pk, reason)


def _batches(rows: list[Pending], size: int) -> list[list[Pending]]:
    """The rows in batches of at most `size`, no two with the same number in one."""
    batches: list[tuple[set, list]] = []
    for pending in rows:
        key = pending.row.phone_key or pending.row.payload["phone_number"]
        for numbers, batch in batches:
            if len(batch) < size and key not in numbers:
                break
        else:
            numbers, batch = set(), []
            batches.append((numbers, batch))
        numbers.add(key)
        batch.append(pending)
    return [batch for _numbers, batch in batches]


def _claimable(job, condition, count) -> list[ClaimedRow]:
    """Up to `count` rows meeting `condition`, locked; rows another worker is locking are
    skipped (SKIP LOCKED on PostgreSQL; SQLite runs the whole claim alone, see settings)."""
    if count <= 0:
        return []
    return list(map(ClaimedRow._make, ImportRow.objects.filter(condition, job=job)
                    .order_by("number").select_for_update(skip_locked=True)
                    .values_list(*CLAIMED_FIELDS)[:count]))


def _store(job: ImportJob, results: list[Sent], worker: str) -> None:
    """Write rows' final states, for the rows this worker still holds."""
    with transaction.atomic():
        _states_store(job, results, worker)
        _added_earlier_store(results)


def _states_store(job: ImportJob, results: list[Sent], worker: str) -> None:
    now = timezone.now()
    stored = update_each(
        ImportRow, keys=["id"], columns=["state", "finished_at", "claimed_by", "lease_until"],
        rows=[(sent.state, now, "", None, sent.row.pk) for sent in results],
        # The job too, or PostgreSQL may read every row held by any job to find these.
        where="job_id = %s AND state = %s AND claimed_by = %s",
        where_params=[job.pk, RowState.SENDING, worker])
    if stored < len(results):
        # This worker stalled past its lease and another took rows over; that one reads
        # these sends' audit entries and settles the rows itself.
        log.warning("import %s: %d rows were taken over before their state was stored",
                    job.pk, len(results) - stored)


def _added_earlier_store(results: list[Sent]) -> None:
    """Numbers known as added again, after `_states_store` in its transaction: the rows
    are locked, so a number erased since its row was claimed is seen erased here, and one
    erased later is erased with what this writes (audit.erasure)."""
    earlier = {sent.row.pk: sent.entry for sent in results
               if sent.state == RowState.ADDED_EARLIER and sent.entry}
    if earlier:
        erased = rows_erased(earlier)
        records_added_earlier([entry for pk, entry in earlier.items() if pk not in erased])


def _unsettled(job: ImportJob):
    return ImportRow.objects.filter(job=job, state__in=(RowState.QUEUED, RowState.SENDING))


def _finish(job: ImportJob) -> None:
    """Turn the job final and write its receipt, once, when no row is left unsettled."""
    if _unsettled(job).exists():
        return  # another worker still holds rows; it finishes the job
    job.refresh_from_db()
    if job.stop_reason:
        final = ImportJob.State.STOPPED
    elif job.cancel_requested_at and job.rows.filter(state=RowState.NOT_SENT).exists():
        # A cancel that came when every row had gone out stopped nothing: done, as it is.
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


def _call_and_beat() -> timedelta:
    """What a lease must have left for a call made now to end within it, with a heartbeat's
    time to spare for the thread's own delays before the call."""
    return call_longest() + timedelta(seconds=settings.IMPORT_HEARTBEAT_SECONDS)


def database_now(job_id: int) -> datetime | None:
    """The database's time, read with the job's row (None if it is gone). Leases and
    heartbeats are written and compared in it, never in a worker's: two machines' clocks
    seconds apart, or one stepped forward, made a worker take over the rows of another
    that was sending them. Written as a value, not as SQL's now(): SQLite would store it
    in fewer digits than the value read back, which a heartbeat's compare-and-set then
    never matches."""
    return ImportJob.objects.filter(pk=job_id).values_list(Now(), flat=True).first()


class _Pace:
    """At most `per_second` sends a second across one worker's threads (0: no limit), and
    none while Thulium asked to wait (`pause`), unless the push stops meanwhile."""

    def __init__(self, per_second: float, stopping: threading.Event):
        self.interval = 1 / per_second if per_second > 0 else 0.0
        self.lock = threading.Lock()
        self.next_at = time.monotonic()
        self.stopping = stopping
        self.paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """Send nothing for `seconds`, in any of the push's threads."""
        with self.lock:
            self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    def unpaused(self) -> None:
        """Wait for the end of a pause, if any."""
        if (left := self.paused_until - time.monotonic()) > 0:
            self.stopping.wait(left)

    def wait(self) -> None:
        self.unpaused()
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            at = max(self.next_at, now)
            self.next_at = at + self.interval
        time.sleep(at - now)
