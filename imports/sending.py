"""What a sending thread does with a batch of claimed rows: send them to Thulium until each
has its verdict, and never send one again before asking Thulium whether it holds it.

A batch goes in one `POST batch/outbounds/:id/records` (or row by row when the import
sends one record per call), and each row's verdict comes from its own item of the answer.
A round is one try with Thulium; between rounds the thread backs off (tenacity), and
rounds end when every row has its verdict, the budget (IMPORT_RETRY_ATTEMPTS tries, and
IMPORT_OUTAGE_MAX_WAIT seconds since the first: an outage of Thulium holds every thread
in its backoff, and fails no row unless it lasts longer) is spent or the import stops:

- Thulium refused the whole batch with an error body: nothing of it was added, so its
  rows go again one per call, each to its own verdict and budget. When the refusal was of
  the batch call itself (imports.fallback), the import sends one per call from then on.
- No usable answer (timeout, dropped connection, 5xx, a body of no known shape), or an
  item that does not tell: the rows concerned may have landed. The next round first lists
  the campaign's records in Thulium (one listing for the batch): a row found is added,
  with Thulium's id; only the others are sent again. The listing stops at the records
  whose addition Thulium answered this push before the rows' send began
  (`AnsweredRecords`): it had added them before, so the rows are not further back.
- Too many requests (429): every thread of the push waits as long as Thulium asks
  (Retry-After), and the try is made again without spending one (`hold_back`).

Each POST of a row and each check has its own audit entry, linked to the row
(ImportAttempt). The outcomes of a batch's last round are handed to the database thread
(imports.pushing), which stores them with the rows' states; earlier ones are stored here
at once, as the check and the next send must see them.
"""

import datetime
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, override
from tenacity import (
    Retrying,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from audit.models import Entry, Outcome
from audit.recording import entries_complete, error_values, outcome_values
from donotcall.lookup import blocked
from portal.db_many import insert_each
from portal.thulium import (
    ThuliumAuthFailed,
    ThuliumError,
    ThuliumMethodRefused,
    ThuliumRefused,
)
from portal.thulium.batch import ADDED, ALREADY_EXISTS, FAILED
from records.entries import (
    IMPORT_ENDED_FIRST,
    IMPORT_NOT_BEGUN,
    LISTED_SINCE_CHECKED,
    RECORD_CHECK,
)
from records.services import (
    added_values,
    batch_failure_values,
    batch_values,
    record_add_begin_all,
    record_add_complete_all,
    record_add_post,
    record_add_post_batch,
    record_checks_begin,
    record_checks_run,
)

from .duplicates import says_already_exists
from .erasure import rows_erased
from .models import ImportAttempt, RowState

# Stored in English, shown in the reader's language (audit's `detail_words`).
INTERRUPTED = gettext_noop("The import's worker stopped before Thulium's answer was recorded.")
# Kept with the addition's kind, which reads them as a send not made (records.entries).
NOT_SENT, NOT_BEGUN = IMPORT_ENDED_FIRST, IMPORT_NOT_BEGUN


class ClaimedRow(NamedTuple):
    """What sending an ImportRow reads of it. A claim reads thousands a second, and a
    model instance each took a seventh of the claiming thread's time."""

    pk: int
    number: int
    state: str
    payload: dict
    phone_key: str


CLAIMED_FIELDS = ClaimedRow._fields


@dataclass
class Pending:
    """A claimed row on its way, and what its sends so far leave open."""

    row: ClaimedRow
    entry: Entry | None = None  # its begun send; None until the next send begins
    unanswered: Entry | None = None  # its last send that went unanswered
    since: datetime.datetime | None = None  # when its first unanswered send began
    # When its last send was given up on: Thulium took it by then, if at all (its own work
    # after, and its clock, are within records.reconciling.CLOCK_MARGIN).
    unanswered_at: datetime.datetime | None = None
    to_check: bool = False  # Thulium may hold it and was not asked since
    tried: bool = False  # a send of it was made
    # On the do-not-call list since its unanswered send: added if Thulium holds it, else
    # suppressed, never sent again.
    listed: bool = False
    # Records Thulium had answered as added when its last send began, and when its first
    # unanswered one did (see AnsweredRecords); none for a dead worker's sends.
    sent_after: frozenset[str] = frozenset()
    since_after: frozenset[str] = frozenset()

    def went_unanswered(self, entry: Entry) -> None:
        self.unanswered, self.to_check, self.entry = entry, True, None
        self.unanswered_at = timezone.now()
        if self.since is None:
            self.since, self.since_after = entry.created_at, self.sent_after


class AnsweredRecords:
    """The ids of the records Thulium said it added in a push's newest answers.

    Taken as a send begins, they are records Thulium added before that send: the check of
    an unanswered send stops listing once it reaches them (records.reconciling). A few
    answers' worth, as a record removed from Thulium meanwhile would not be listed.
    """

    ANSWERS = 8

    def __init__(self):
        self._lock = threading.Lock()
        self._answers: deque[tuple[str, ...]] = deque(maxlen=self.ANSWERS)

    def add(self, record_ids: list[str]) -> None:
        if record_ids:
            with self._lock:
                self._answers.append(tuple(record_ids))

    def so_far(self) -> frozenset[str]:
        with self._lock:
            return frozenset(record_id for ids in self._answers for record_id in ids)


@dataclass
class Sent:
    """A row's verdict: its final state and the entry of its last step (a send or a check)."""

    row: ClaimedRow
    state: str
    entry: Entry | None = None


@dataclass
class Sending:
    """What became of a batch, for the database thread to store in one transaction."""

    sent: list[Sent] = field(default_factory=list)
    completions: list[tuple[Entry, dict]] = field(default_factory=list)  # not stored yet
    phone_keys: dict[int, str] = field(default_factory=dict)  # their numbers' keys, by entry
    crash: Exception | None = None  # a bug or the database: the task fails with it


class BatchSend:
    """One batch's way through Thulium (see the module's docstring).

    `push` is the import's push (imports.pushing): its job, pace, stopping event, whether
    it sends one record per call, and how to stop it or to fall back to single POSTs.
    """

    def __init__(self, push, batch: list[Pending], *, single: bool = False):
        self.push = push
        self.job = push.job
        self.open = list(batch)
        self.single = single or push.single_posts
        self.done = Sending()
        self.cut_short = False  # a cancel or a stop ended the rounds, not the budget
        self.turned_away = False  # Thulium answered the last try "too many requests"
        self.turned_away_since: float | None = None

    def run(self) -> Sending:
        if self.single and len(self.open) > 1:
            return self.one_by_one(self.open)
        with override(self.job.language or None):
            Retrying(
                retry=retry_if_result(bool),
                # Tries, and time: a short outage of Thulium fails no row.
                stop=stop_after_attempt(settings.IMPORT_RETRY_ATTEMPTS)
                & stop_after_delay(settings.IMPORT_OUTAGE_MAX_WAIT),
                # Workers of several imports back off out of step with each other.
                wait=wait_exponential_jitter(multiplier=settings.IMPORT_RETRY_WAIT,
                                             jitter=settings.IMPORT_RETRY_WAIT,
                                             max=settings.IMPORT_RETRY_MAX_WAIT),
                sleep=self.push.stopping.wait,  # a cancel cuts the backoff short
                retry_error_callback=lambda _state: None,
            )(self.round)
            self.finish()
        return self.done

    def round(self) -> bool:
        """One try with Thulium; True when rows are left for another. A try Thulium turned
        away for now is made again once the push waited, and counts as none (`hold_back`)."""
        while True:
            if self.push.stopping.is_set():
                self.cut_short = True
                return False
            self.store_completions()
            self.turned_away = False
            if self.check() and self.begin():
                if self.single:
                    self.post_one(self.open[0])
                else:
                    self.post_batch()
            if not (self.turned_away and self.open):
                return bool(self.open)

    # --- the steps of a round -------------------------------------------------------------

    def check(self) -> bool:
        """Ask Thulium about the rows whose last send went unanswered; False if it failed.

        Found, a row is added (see `found_in_thulium`); not found, it may be sent again,
        unless its number was put on the do-not-call list meanwhile.
        """
        if not any(pending.to_check for pending in self.open):
            return True
        self.push.pace.unpaused()
        if not self.unless_taken_over():
            return True
        rows = [pending for pending in self.open if pending.to_check]
        with transaction.atomic():
            if not (rows := self.unless_erased(rows)):
                return True
            # Records answered before the earliest of these sends were added before all of
            # them.
            earliest = min(rows, key=lambda pending: pending.since)
            since = earliest.since
            # Rows sent days apart (a check that failed is asked again later): the listing
            # reaches the latest send's day.
            until = max(pending.unanswered_at for pending in rows)
            checks = record_checks_begin([pending.unanswered for pending in rows],
                                         since=since, until=until, actor=self.job.actor,
                                         actor_username=self.job.actor_username)
            ImportAttempt.objects.bulk_create(
                ImportAttempt(row_id=pending.row.pk, entry=check)
                for pending, check in zip(rows, checks, strict=True))
        try:
            record_checks_run(checks, since=since, until=until,
                              applied_before=earliest.since_after,
                              language=self.job.language or None)
        except ThuliumError as error:
            self.hold_back(error)
            return False  # still to check: the next round asks again
        for pending, check in zip(rows, checks, strict=True):
            pending.to_check = False
            if found := found_in_thulium(pending, check):
                self.settle(pending, found.state, found.entry)
            elif pending.listed:
                self.settle(pending, RowState.SUPPRESSED, check)
        return True

    def begin(self) -> bool:
        """Begin a send of each row that has none (its last went nowhere): its pending
        entry, linked to the row. A number erased since the claim is not sent again: the
        retry's wait can last minutes. False when no row is left to send."""
        if any(pending.entry is None for pending in self.open) and self.unless_taken_over():
            rows = [pending for pending in self.open if pending.entry is None]
            with transaction.atomic():
                if rows := self.unless_erased(rows):
                    sends_begin(self.job, rows)
        return bool(self.open)

    def post_batch(self) -> None:
        self.push.pace.wait()
        if not (self.unless_erased_since_begun() and self.unless_listed_since_begun()
                and self.unless_taken_over()):
            return
        answered = self.push.answered.so_far()
        for pending in self.open:
            pending.tried, pending.sent_after = True, answered
        try:
            results = record_add_post_batch([pending.entry for pending in self.open],
                                            language=self.job.language or None)
        except ThuliumMethodRefused as error:
            self.failed_all(error)
            self.push.single_posts = True  # the other threads' next batches too
            singly = self.one_by_one(self.open)
            self.done, self.open = self.merged(singly), []
            if _single_posts_work(singly):
                self.push.send_singly(error)
            return
        except ThuliumRefused as error:
            # Refused as a whole, so nothing of it was added: each row on its own.
            self.failed_all(error)
            self.done = self.merged(self.one_by_one(self.open))
            self.open = []
            return
        except ThuliumError as error:
            self.failed_all(error)
            self.hold_back(error)
            return
        self.push.answered.add([result.record_id for result in results
                                if result.status == ADDED])
        for pending, result in list(zip(self.open, results, strict=True)):
            values = batch_values(result)
            self.complete(pending, values)
            if result.status == ADDED:
                self.settle(pending, RowState.ADDED)
            elif result.status in (ALREADY_EXISTS, FAILED):
                self.settle(pending, refusal(values, pending.unanswered))
            else:
                pending.went_unanswered(pending.entry)

    def post_one(self, pending: Pending) -> None:
        self.push.pace.wait()
        if not (self.unless_erased_since_begun() and self.unless_listed_since_begun()
                and self.unless_taken_over()):
            return
        pending.tried, pending.sent_after = True, self.push.answered.so_far()
        try:
            new = record_add_post(pending.entry, language=self.job.language or None)
        except ThuliumError as error:
            self.complete(pending, error_values(error))
            if isinstance(error, ThuliumAuthFailed):
                # Not Thulium's words, which may repeat the record's data: the stop reason
                # is kept with the import, its receipt and the log, out of an erasure's reach.
                self.push.stop(_("Thulium did not accept the portal's API credentials (HTTP "
                                 "%(status)s, request id %(request_id)s).") % {
                    "status": error.status, "request_id": error.request_id or "—"})
                self.settle(pending, RowState.FAILED)
            elif isinstance(error, ThuliumRefused):
                if error.status in ThuliumMethodRefused.STATUSES:
                    # Refused as a campaign Thulium does not hold would be: so would every
                    # other row be, one call each.
                    self.push.stop(_("Thulium refused to add records to this campaign: it no "
                                     "longer holds it, or the portal's API user may not add "
                                     "records to it (HTTP %(status)s, request id "
                                     "%(request_id)s).") % {
                        "status": error.status, "request_id": error.request_id or "—"})
                self.settle(pending, refusal(error_values(error), pending.unanswered))
            elif error.may_have_applied:
                pending.went_unanswered(pending.entry)
            else:
                pending.entry = None
                self.hold_back(error)
            return
        self.push.answered.add([new.record_id])
        self.complete(pending, added_values(new.record_id, http_status=new.http_status))
        self.settle(pending, RowState.ADDED)

    def hold_back(self, error: ThuliumError) -> None:
        """Thulium answered "too many requests" (429): every thread of the push waits as long
        as it asked, and the try is made again, spending none of the rows' tries, for up to
        IMPORT_THROTTLED_MAX_WAIT seconds; then such answers count as failed tries."""
        if error.status != 429:
            return
        now = time.monotonic()
        self.turned_away_since = self.turned_away_since or now
        if (left := settings.IMPORT_THROTTLED_MAX_WAIT - (now - self.turned_away_since)) > 0:
            self.turned_away = True
            self.push.pace.pause(min(error.retry_after or settings.IMPORT_RETRY_WAIT, left))

    def failed_all(self, error: ThuliumError) -> None:
        """The batch call failed as a whole: every row's send has its outcome. A refusal
        of the whole is no verdict on a row: it is marked so (see `resumed`)."""
        each = batch_failure_values(error, [pending.entry for pending in self.open],
                                    [pending.row.phone_key for pending in self.open])
        for pending, values in zip(list(self.open), each, strict=True):
            if isinstance(error, ThuliumRefused):
                values["results"] = {"batch_refused": True}
            self.complete(pending, values)
            if error.may_have_applied:
                pending.went_unanswered(pending.entry)
            else:
                pending.entry = None
            if isinstance(error, ThuliumRefused):
                # No verdict on the row: left unsent (a stop before its own send), it is
                # "not sent", as with single POSTs, not "failed".
                pending.tried = False

    def finish(self) -> None:
        """The rows left when the rounds end: one last check of those Thulium may hold, then
        each its state; a send begun but not made is completed as not sent."""
        if self.open and not self.push.stopping.is_set():
            self.store_completions()
            self.check()
        for pending in list(self.open):
            if pending.entry is not None:
                self.complete(pending, outcome_values(outcome=Outcome.FAILED, detail=NOT_SENT))
            self.settle(pending, unsent_state(pending, cut_short=self.cut_short))

    # --- bookkeeping ------------------------------------------------------------------------

    def unless_erased(self, rows: list[Pending]) -> list[Pending]:
        """The rows whose number was not erased since they were claimed; the others end
        here, unsent from then on: the portal no longer holds the person's data, so it
        neither sends them nor asks Thulium about them. In the caller's transaction, which
        writes the rows' data again: the rows are locked until it ends, so an erasure comes
        either before and is seen here, or after and erases what it writes."""
        erased = rows_erased([pending.row.pk for pending in rows], lock=True)
        for pending in rows:
            if pending.row.pk in erased:
                self.settle(pending, unsent_state(pending))
        return [pending for pending in rows if pending.row.pk not in erased]

    def unless_erased_since_begun(self) -> bool:
        """Leave out the rows whose number was erased since their sends began: a batch
        begun at its claim waits for its thread, and the pace, before it is sent. Their
        sends are completed as not made. False when no row is left to send."""
        erased = rows_erased([pending.row.pk for pending in self.open])
        for pending in [pending for pending in self.open if pending.row.pk in erased]:
            self.complete(pending, outcome_values(outcome=Outcome.FAILED, detail=NOT_SENT))
            self.settle(pending, unsent_state(pending))
        return bool(self.open)

    def unless_listed_since_begun(self) -> bool:
        """Leave out the rows whose number was put on the do-not-call list since it was
        checked (at the claim, or before a retry's wait): the list says none of its numbers
        is loaded, and a batch waits for its thread and the pace, minutes with single POSTs
        or a rate limit. Their sends are completed as not made, and the rows suppressed, as
        at the claim; one lookup for the batch. False when no row is left to send."""
        listed = blocked(self.job.campaign, [pending.row.phone_key for pending in self.open])
        for pending in [pending for pending in self.open if pending.row.phone_key in listed]:
            self.complete(pending, outcome_values(outcome=Outcome.FAILED,
                                                  detail=LISTED_SINCE_CHECKED))
            self.settle(pending, RowState.SUPPRESSED)
        return bool(self.open)

    def unless_taken_over(self) -> bool:
        """Leave out the rows another push took over since this one claimed them (it stalled
        past their lease): that push completed their begun steps, asks Thulium about them
        and settles them; sent by both, they would be sent twice. Asked before each step
        that begins an entry of a row or sends it, so that none is begun or sent for a row
        another push holds; the others' leases are renewed (`still_held`). False when no
        row is left to send."""
        held = self.push.still_held([pending.row.pk for pending in self.open])
        self.open = [pending for pending in self.open if pending.row.pk in held]
        return bool(self.open)

    def settle(self, pending: Pending, state: str, entry: Entry | None = None) -> None:
        self.open.remove(pending)
        self.done.sent.append(Sent(pending.row, state,
                                   entry or pending.entry or pending.unanswered))

    def complete(self, pending: Pending, values: dict) -> None:
        """The outcome of the row's begun send, to be stored (see `store_completions`)."""
        self.done.completions.append((pending.entry, values))
        self.done.phone_keys[pending.entry.pk] = pending.row.phone_key

    def store_completions(self) -> None:
        """Store the outcomes so far: the check and the next send must see them."""
        if self.done.completions:
            record_add_complete_all(self.done.completions, phone_keys=self.done.phone_keys)
            self.done.completions, self.done.phone_keys = [], {}

    def one_by_one(self, rows: list[Pending]) -> Sending:
        """Each row sent on its own, with its own rounds."""
        self.store_completions()
        done = Sending()
        for pending in rows:
            done = _joined(done, BatchSend(self.push, [pending], single=True).run())
        return done

    def merged(self, other: Sending) -> Sending:
        return _joined(self.done, other)


def sends_begin(job, rows: list[Pending]) -> None:
    """Begin a send of each row, in the caller's transaction if any: its pending audit
    entry, linked to the row (ImportAttempt), and its number marked as being sent. The
    entry names the loader as the job does, their account deleted meanwhile too."""
    additions = record_add_begin_all(
        campaign=job.campaign, payloads=[pending.row.payload for pending in rows],
        actor=job.actor, actor_username=job.actor_username,
        phone_keys=[pending.row.phone_key for pending in rows],
        own_rows=lambda additions: insert_each(
            ImportAttempt, columns=["row_id", "entry_id"],
            rows=[(pending.row.pk, addition.pk)
                  for pending, addition in zip(rows, additions, strict=True)]))
    for pending, addition in zip(rows, additions, strict=True):
        pending.entry = addition


def _single_posts_work(sending: Sending) -> bool:
    """Whether Thulium answered single POSTs as for a campaign it holds: a record added, or
    refused for what was sent. Refused as the batch call was (a campaign removed in Thulium
    is not found either way), the batch call's refusal is no reason for other imports to
    send one record per call."""
    return any(values["outcome"] == Outcome.SUCCEEDED
               or (values["outcome"] == Outcome.REFUSED
                   and values["http_status"] not in ThuliumMethodRefused.STATUSES)
               for _entry, values in sending.completions)


def _joined(first: Sending, second: Sending) -> Sending:
    return Sending(first.sent + second.sent, first.completions + second.completions,
                   first.phone_keys | second.phone_keys)


def unsent_state(pending: Pending, *, cut_short: bool = False) -> str:
    """The state of a row that is sent no further: unknown if Thulium may hold it; failed
    if it was tried, unless a cancel or a stop cut its tries short: it is not sent then,
    and the import ends cancelled or stopped, not done."""
    if pending.to_check:
        return RowState.UNKNOWN
    return RowState.FAILED if pending.tried and not cut_short else RowState.NOT_SENT


def refusal(values: dict, unanswered) -> str:
    """The state of a row whose send was refused (outcome values, or an entry's as a dict).

    A refusal is final; after an unanswered send, a duplicate one means it had landed:
    Thulium said ALREADY_EXISTS, or its message says so.
    """
    already = values["results"].get("batch_status") == "ALREADY_EXISTS" or says_already_exists(
        values["messages"] or [values["detail"]])
    return RowState.ADDED_EARLIER if unanswered and already else RowState.REFUSED


def found_in_thulium(pending: Pending, check: Entry) -> Sent | None:
    """The verdict of a row its completed check found in Thulium, or None.

    Listed with its id, the row is added. Listed without one, Thulium holds the number
    and the portal knows no id of it (records.services.record_checks_run): added earlier,
    as when a resend is refused as a duplicate; its verdict names the unanswered send,
    which the number keeps as its entry when imports.pushing stores it as added earlier.
    """
    if check.outcome != Outcome.SUCCEEDED or not check.results.get("found"):
        return None
    if check.results.get("record_id"):
        return Sent(pending.row, RowState.ADDED, check)
    return Sent(pending.row, RowState.ADDED_EARLIER, pending.unanswered)


def resumed(row: ClaimedRow) -> Sent | Pending:
    """A dead worker's row, from its steps' entries: settled, or to send on.

    A step still pending was cut off: a send is completed as unknown (Thulium may have
    taken it), a check as failed (it learnt nothing).
    """
    steps = [attempt.entry for attempt in ImportAttempt.objects.filter(row_id=row.pk)
             .select_related("entry").order_by("entry__created_at", "pk")]
    cut_off = [entry for entry in steps if entry.outcome == Outcome.PENDING]
    sends = [entry for entry in cut_off if entry.kind != RECORD_CHECK.slug]
    checks = [entry for entry in cut_off if entry.kind == RECORD_CHECK.slug]
    if sends:
        record_add_complete_all([
            (entry, outcome_values(outcome=Outcome.UNKNOWN, detail=INTERRUPTED))
            for entry in sends])
    if checks:
        entries_complete([(entry, outcome_values(outcome=Outcome.FAILED, detail=INTERRUPTED))
                          for entry in checks])
    pending = Pending(row)
    for entry in steps:
        if entry.kind == RECORD_CHECK.slug:
            if found := found_in_thulium(pending, entry):
                return found
            pending.to_check = pending.to_check and entry.outcome != Outcome.SUCCEEDED
            continue
        pending.tried = pending.tried or not (
            entry.detail in (NOT_SENT, LISTED_SINCE_CHECKED, NOT_BEGUN)
            or entry.results.get("batch_refused"))
        if entry.outcome == Outcome.SUCCEEDED:
            return Sent(row, RowState.ADDED, entry)
        if entry.outcome == Outcome.UNKNOWN:
            pending.went_unanswered(entry)
        elif entry.outcome == Outcome.REFUSED and not entry.results.get("batch_refused"):
            verdict = refusal({"results": entry.results, "messages": entry.messages,
                               "detail": entry.detail}, pending.unanswered)
            return Sent(row, verdict, entry)
    return pending
