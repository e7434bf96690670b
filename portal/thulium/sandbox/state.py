"""What the sandbox remembers: campaigns, records, queued faults, latency, request log,
permission refusals and the shape of batch answers.

Handler threads and test code share one `SandboxState`; one lock guards all of it, and
readers get copies so nobody can change the state behind the lock's back.
"""

import copy
import functools
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo

from .seed import generated_campaign, seed_campaigns

FIRST_RECORD_ID = 231  # the id in the doc's example answer
DEFAULT_TIMEOUT_DELAY = 10.0

# Faults after which the request is still processed (stored) as normal.
PROCESSED_KINDS = frozenset({"timeout", "broken_json"})
# "http_429": too many requests, with a Retry-After of the fault's delay (whole seconds).
FAULT_KINDS = PROCESSED_KINDS | {"http_429", "http_500", "http_502", "http_503", "reset",
                                 "refuse"}
# Record values Thulium keeps unique within a campaign.
_UNIQUE = ("phone_number", "identifier")
# Documented: Thulium's dates carry no seconds nor zone and read as Polish local time.
WARSAW = ZoneInfo("Europe/Warsaw")
# Undocumented: Thulium's status for a method the API user may not call is unknown.
REFUSAL_STATUSES = frozenset({401, 403, 404, 405})
# The two known answers of the batch POST: keyed by phone number (the older twin's
# documented example) or a list of objects carrying the phone number.
# "wrapped" is no shape Thulium documents: the keyed answer as a listing's page, {"count":
# ..., "result": ...}, an answer the portal cannot read and which names every number sent.
BATCH_SHAPES = ("keyed", "list", "wrapped")
# How a listing may show a record without its id (list_without_id): "" (the empty value
# Thulium documents), null, or no record_id at all.
WITHOUT_ID_FORMS = ("empty", "null", "absent")


@dataclass(frozen=True)
class Fault:
    """One queued failure, handed to the handler of the request that consumes it."""

    kind: str
    path: str | None = None
    delay: float = DEFAULT_TIMEOUT_DELAY
    apply: bool = True
    every: int | None = None  # every n-th matching request gets it, until reset
    first: bool = False  # the requests it takes are applied before others it leaves wait
    method: str | None = None  # only requests of this method, e.g. "POST"; None: any

    def matches(self, path, method=None):
        return ((self.path is None or path.startswith(self.path))
                and self.method in (None, method))


@dataclass(frozen=True)
class Refusal:
    """A method the API user has no permission for: patterns as `fnmatch` reads them."""

    method: str
    path: str  # relative to /api/, e.g. "batch/outbounds/*"
    status: int

    def matches(self, method, path):
        return fnmatchcase(method, self.method) and fnmatchcase(path, self.path)


class SandboxState:
    """Thread-safe state of one sandbox server."""

    def __init__(self, latency=0.0):
        self._lock = threading.Lock()
        self._open = threading.Event()  # cleared while /api requests are held (hold)
        self._timed_out_changed = threading.Condition(self._lock)
        self._test_over = threading.Event()
        self.reset()
        self.latency = latency

    def reset(self):
        """Back to the seed data, with no records, faults, latency or logged requests."""
        with self._lock:
            self._campaigns = seed_campaigns()
            self._records = {campaign_id: [] for campaign_id in self._campaigns}
            # (campaign, "phone_number" or "identifier", value) -> the record holding it
            self._holders = {}
            self._faults = []  # [fault, remaining times], oldest first
            self._latency = 0.0
            self._received = []
            self._next_record_id = FIRST_RECORD_ID
            self._create_dates = {}  # record id -> "YYYY-MM-DD hh:mm", Warsaw time
            self._now = None  # a fixed creation time for new records; None: the clock's
            self._refusals = []
            self._batch_shape = "keyed"
            self._date_to_exclusive = False
            self._left_out = set()  # numbers the next batch answers say nothing about
            self._failing = set()  # numbers the next batches refuse
            self._without_id = {}  # number -> how listings show its record without its id
            self._gathering = None  # a threading.Barrier while requests are held (gather)
            self.gathered = False
            self._timed_out = 0  # requests a timeout fault took, once it applied them or not
            # Handler thread -> the `first` fault whose request it has not yet applied.
            self._firsts_in_flight = {}
            self._timed_out_changed.notify_all()  # requests waiting behind `first` faults
            # A reset ends the timeout faults' waits: the test that asked for them is over.
            test_over, self._test_over = self._test_over, threading.Event()
        test_over.set()
        self._open.set()

    # --- latency and faults ---------------------------------------------------------

    @property
    def latency(self):
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, seconds):
        seconds = _number(seconds, "latency")
        with self._lock:
            self._latency = seconds

    def fail_next(self, kind, times=1, path=None, delay=None, apply=True, every=None,
                  first=False, method=None):
        """Queue a fault for the next `times` /api requests whose path starts with `path`
        (of `method` only, if given).

        With `every` n instead, every n-th such request gets it until reset: a steady share
        of failures over a long run (a bench's "1 answer in 10 lost"), which a fixed count
        of faults cannot place when requests run concurrently.

        With `first`, a timeout fault's requests are applied (or not, as `apply` says)
        before any /api request it does not match (another path or method) goes past its
        fault step: the portal's lookup once it gave up on the lost call finds what that
        call did, though the sandbox's thread stalled longer than the portal waited (not
        also longer than the lookup waits). A request it does not match sent before the
        fault took its own waits a minute: `first` is for the portal's first call.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {sorted(FAULT_KINDS)}")
        if type(times) is not int or times < 1:
            raise ValueError("times must be a positive integer")
        if every is not None and (type(every) is not int or every < 1):
            raise ValueError("every must be a positive integer or null")
        if every is not None and times != 1:
            raise ValueError("give times or every, not both")
        if path is not None and not isinstance(path, str):
            raise ValueError("path must be a string or null")
        if method is not None and not isinstance(method, str):
            raise ValueError("method must be a string or null")
        if not isinstance(apply, bool):
            raise ValueError("apply must be true or false")
        if not isinstance(first, bool):
            raise ValueError("first must be true or false")
        if first and (kind != "timeout" or every is not None):
            raise ValueError("first is for a timeout fault given times, not every")
        delay = DEFAULT_TIMEOUT_DELAY if delay is None else _number(delay, "delay")
        fault = Fault(kind, path, delay, apply, every, first, method and method.upper())
        with self._lock:
            # For an `every` fault the count is of matching requests still to come before
            # the next one that gets it, and starts again at `every` once it is reached.
            self._faults.append([fault, every or times])

    def take_fault(self, path, method=None):
        """The first queued fault matching `path` (and `method`), used up once; None if none
        matches.

        An `every` fault is never used up: it counts the requests that reach it and is
        taken by each n-th; the others go on to the faults queued after it.
        """
        with self._lock:
            for entry in self._faults:
                fault, remaining = entry
                if fault.matches(path, method) and fault.every:
                    entry[1] = remaining - 1 or fault.every
                    if remaining == 1:
                        return fault
                elif fault.matches(path, method):
                    if remaining == 1:
                        self._faults.remove(entry)
                    else:
                        entry[1] = remaining - 1
                    if fault.first:
                        self._firsts_in_flight[threading.get_ident()] = fault
                    return fault
        return None

    def wait_behind_first_faults(self, path, method):
        """Called by the handler of an /api request no `first` fault took: wait until those
        that do not match it took their requests and applied them or not (or a minute
        passed). Requests they match go on: the portal's other sends of the moment."""
        def ahead():
            firsts = [fault for fault, _ in self._faults if fault.first]
            firsts += self._firsts_in_flight.values()
            return any(not fault.matches(path, method) for fault in firsts)

        with self._timed_out_changed:
            self._timed_out_changed.wait_for(lambda: not ahead(), 60.0)

    def time_out(self, seconds):
        """Called by the handler of a request a timeout fault took, once it applied the
        request or chose not to: wait `seconds` before answering or hanging up, or less if
        the sandbox is reset first."""
        with self._lock:
            test_over = self._test_over
            self._timed_out += 1
            self._firsts_in_flight.pop(threading.get_ident(), None)
            self._timed_out_changed.notify_all()
        test_over.wait(seconds)

    def wait_timed_out(self, count=1, timeout=60.0):
        """Wait until timeout faults have taken `count` requests since the reset, each
        applied or not as the fault said: what the sandbox holds can then be looked at
        without racing its handlers. False if `timeout` seconds passed first."""
        with self._timed_out_changed:
            return self._timed_out_changed.wait_for(lambda: self._timed_out >= count, timeout)

    @property
    def faults_queued(self):
        """How many queued faults are still to be used up (`every` faults never are)."""
        with self._lock:
            return sum(remaining for fault, remaining in self._faults if not fault.every)

    def refuse(self, method, path, status=403):
        """Refuse /api requests matching `method` and `path` (relative to /api/, `*` as a
        wildcard) to the API user, as a per-method permission in Thulium's panel would."""
        if not isinstance(method, str) or not isinstance(path, str):
            raise ValueError("method and path must be strings")
        if status not in REFUSAL_STATUSES:
            raise ValueError(f"status must be one of {sorted(REFUSAL_STATUSES)}")
        with self._lock:
            self._refusals.append(Refusal(method.upper(), path, status))

    def refusal(self, method, path):
        """The refusal matching an /api request (path relative to /api/), or None."""
        with self._lock:
            return next((r for r in self._refusals if r.matches(method, path)), None)

    @property
    def batch_shape(self):
        """How the batch POST answers: "keyed" (by phone number), "list" or "wrapped"."""
        with self._lock:
            return self._batch_shape

    @batch_shape.setter
    def batch_shape(self, shape):
        if shape not in BATCH_SHAPES:
            raise ValueError(f"shape must be one of {list(BATCH_SHAPES)}")
        with self._lock:
            self._batch_shape = shape

    @property
    def date_to_exclusive(self):
        """Whether a listing's create_date_to leaves its own day out. Undocumented: the doc
        does not say whether the day is included; the sandbox includes it by default, and
        this is the other reading, for a portal that must work under either."""
        with self._lock:
            return self._date_to_exclusive

    @date_to_exclusive.setter
    def date_to_exclusive(self, exclusive):
        if not isinstance(exclusive, bool):
            raise ValueError("exclusive must be true or false")
        with self._lock:
            self._date_to_exclusive = exclusive

    def leave_out_of_batch_answer(self, numbers):
        """Say nothing about these numbers (as sent) in the batch answers that carry them,
        once each, while still storing their records: an answer missing items."""
        self._mark(self._left_out, numbers)

    def take_left_out(self, numbers):
        """Which of `numbers` the answer leaves out (see leave_out_of_batch_answer)."""
        return self._take(self._left_out, numbers)

    def fail_in_batch(self, numbers):
        """Refuse the records of these numbers (as sent) in the next batches that carry
        them, once each, as Thulium's FAILED; the others of the batch are added."""
        self._mark(self._failing, numbers)

    def take_failing(self, numbers):
        """Which of `numbers` a batch refuses (see fail_in_batch)."""
        return self._take(self._failing, numbers)

    def list_without_id(self, numbers, form="empty"):
        """List the records of these numbers (as sent) without their record_id, in one of
        WITHOUT_ID_FORMS, until reset. Undocumented: whether Thulium ever does is unknown;
        a listing's item the portal cannot tie to an id."""
        if form not in WITHOUT_ID_FORMS:
            raise ValueError(f"form must be one of {list(WITHOUT_ID_FORMS)}")
        with self._lock:
            self._without_id.update(dict.fromkeys(numbers, form))

    def _mark(self, marked, numbers):
        with self._lock:
            marked |= set(numbers)

    def _take(self, marked, numbers):
        """The `numbers` marked, unmarked: each mark is used once."""
        with self._lock:
            taken = marked & set(numbers)
            marked -= taken
            return taken

    def set_now(self, moment):
        """Give records added from now on this creation time (an aware datetime), so tests
        can fill chosen days; None goes back to the clock."""
        if moment is not None and (not isinstance(moment, datetime) or moment.tzinfo is None):
            raise ValueError("moment must be an aware datetime or None")
        with self._lock:
            self._now = moment

    def gather(self, count, timeout=60.0):
        """Hold the next /api requests until `count` of them are in flight, then answer them
        all: a test can then be sure that so many were sent at once (`gathered` says whether
        they came, or `timeout` seconds passed first and they were let go)."""
        with self._lock:
            self._gathering = threading.Barrier(count, action=self._gathered, timeout=timeout)
            self.gathered = False

    def _gathered(self):
        # Run by the last request to come, before any is let go: those after pass freely.
        with self._lock:
            self._gathering, self.gathered = None, True

    def hold(self):
        """Hold every /api request until `release` (or a minute): a test can look at the
        portal while its calls are certainly unanswered."""
        self._open.clear()

    def release(self):
        self._open.set()

    def wait_gathered(self):
        """Called by each /api request's handler: wait while requests are held or being
        gathered."""
        self._open.wait(timeout=60)
        with self._lock:
            barrier = self._gathering
        if barrier is not None:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                with self._lock:
                    self._gathering = None

    # --- request log ----------------------------------------------------------------

    def log_request(self, entry):
        with self._lock:
            self._received.append(dict(entry))

    @property
    def received(self):
        """Logged /api requests, oldest first."""
        with self._lock:
            return copy.deepcopy(self._received)

    def received_forget(self):
        """Forget the logged requests, so a test counts only those that follow."""
        with self._lock:
            self._received = []

    # --- campaigns and records ------------------------------------------------------

    # What Thulium holds (campaigns, records and their ids and dates), as data_saved keeps it.
    _DATA = ("_campaigns", "_records", "_holders", "_next_record_id", "_create_dates")

    def data_saved(self):
        """A copy of the campaigns and records, for data_restore to bring back."""
        with self._lock:
            return copy.deepcopy({name: getattr(self, name) for name in self._DATA})

    def data_restore(self, saved):
        """Hold again the campaigns and records data_saved copied (faults and log stay)."""
        with self._lock:
            for name, value in copy.deepcopy(saved).items():
                setattr(self, name, value)


    def campaign(self, campaign_id):
        """The campaign as currently stored, or None if there is no such campaign."""
        with self._lock:
            return copy.deepcopy(self._campaigns.get(campaign_id))

    def campaigns(self):
        with self._lock:
            return copy.deepcopy(list(self._campaigns.values()))

    def campaigns_page(self, offset, limit):
        """(how many campaigns, a page of them): only the page is copied, so that reading
        thousands page by page stays quick."""
        with self._lock:
            return len(self._campaigns), copy.deepcopy(
                list(self._campaigns.values())[offset:offset + limit])

    def add_generated_campaigns(self, count):
        """Add `count` made-up campaigns (ids G0001, G0002...) beside the seed's, until reset:
        a list of hundreds without hundreds of lines of seed data."""
        if type(count) is not int or not 0 < count < 10000:
            raise ValueError("count must be an integer from 1 to 9999")
        with self._lock:
            for number in range(1, count + 1):
                campaign = generated_campaign(number)
                self._campaigns[campaign["id"]] = campaign
                self._records.setdefault(campaign["id"], [])

    def remove_campaign(self, campaign_id):
        """Delete the campaign, as Thulium's own panel can, until reset."""
        with self._lock:
            del self._campaigns[campaign_id]

    def records_count(self, campaign_id):
        with self._lock:
            return len(self._records.get(campaign_id, []))

    def records(self, campaign_id):
        """Records POST accepted for the campaign, oldest first."""
        with self._lock:
            return copy.deepcopy(self._records.get(campaign_id, []))

    def listed_records(self, campaign_id):
        """Records oldest first, each with its "create_date" as GET records shows it and, for
        one listed without its id, the form of that (`id_left_out`, see list_without_id)."""
        with self._lock:
            return [
                {**copy.deepcopy(record), "create_date": self._create_dates[record["record_id"]],
                 "id_left_out": self._without_id.get(record.get("phone_number"))}
                for record in self._records.get(campaign_id, [])
            ]

    def update_campaign(self, campaign_id, changes, check):
        """Store `changes` if `check(campaign)` finds no errors; return those errors.

        Checking and storing under one lock keeps concurrent updates from slipping
        past each other's validation.
        """
        with self._lock:
            campaign = self._campaigns[campaign_id]
            errors = check(copy.deepcopy(campaign))
            if not errors:
                changes = copy.deepcopy(changes)
                campaign["parameters"].update(changes.pop("parameters", {}))
                campaign.update(changes)
            return errors

    def add_record(self, campaign_id, record, check):
        """Store `record` if `check(campaign, records)` finds no errors in it.

        `records` are the stored ones that share its phone number or identifier.

        Returns (record_id or None, errors). One lock for check and store, so two
        concurrent requests cannot both add the same phone number.
        """
        with self._lock:
            record_id, errors, _ = self._add(campaign_id, record, check)
            return record_id, errors

    def add_records(self, campaign_id, records, check):
        """Check and store each of `records` in order, as `add_record` does, in one step.

        `check(record, campaign, records)` is `add_record`'s check told which record it
        checks. Returns (record_id or None, errors, id of the stored record it duplicates
        or None) for each; later records are checked against the earlier ones stored.
        """
        with self._lock:
            return [self._add(campaign_id, record, functools.partial(check, record))
                    for record in records]

    def _add(self, campaign_id, record, check):
        # Only records with the same phone number or identifier can fail the checks;
        # handing them just those keeps a POST fast in a campaign of many thousands.
        keys = [(campaign_id, name, record.get(name)) for name in _UNIQUE
                if isinstance(record.get(name), str)]
        alike = {id(held): held for key in keys if (held := self._holders.get(key))}
        duplicated = next(iter(alike.values()), {}).get("record_id")
        errors = check(copy.deepcopy(self._campaigns[campaign_id]),
                       copy.deepcopy(list(alike.values())))
        if errors:
            return None, errors, duplicated
        record_id = str(self._next_record_id)
        self._next_record_id += 1
        stored = {"record_id": record_id, **copy.deepcopy(record)}
        self._records[campaign_id].append(stored)
        self._create_dates[record_id] = (self._now or datetime.now(UTC)).astimezone(
            WARSAW).strftime("%Y-%m-%d %H:%M")
        for key in keys:
            self._holders[key] = stored
        return record_id, [], None

def _number(value, name):
    if type(value) not in (int, float) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0")
    return float(value)
