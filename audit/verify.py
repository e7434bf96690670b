"""Walking the hash chain: is the audit log exactly as it was written?

The head is read first and only links up to it are walked, and every check of a run reads
one snapshot of the log (audit.fastread.long_read), so entries written or erased while it
runs are left for the next one instead of looking like tampering. A forked walker reads a
later snapshot of its own: the links up to the head were all committed when the head was
read, and an erasure since changes nothing the chain covers.

Each link stores its own hash, so any stretch of the chain can be checked from the stored
hash of the link before it. A long chain is cut into one stretch per CPU, walked by
forked processes at once; the first break in chain order is the one reported.

Links are made under the audit key (audit.chain), and the chain moves from one key to the
next only forward: a key it moved on from (retired after a rotation, or none, as links were
made before the chain was keyed) makes no later link. Whoever holds an old key, or none,
cannot append to the chain either.
"""

import heapq
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing import get_context
from operator import itemgetter

from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from .chain import (
    BEGUN,
    BEGUN_FIELDS,
    COMPLETED,
    COMPLETED_FIELDS,
    UNKEYED,
    begun_text,
    completed_text,
    link_hash,
    link_key_id,
    link_key_missing,
)
from .fastread import long_read, read_as_text, utc_text
from .findings import Finding, where
from .kinds import CARRIED_OVER
from .models import GENESIS_HASH, ChainCheck, ChainHead, Entry, Outcome
from .personal import KEY_UNKNOWN
from .signals import chain_broken
from .verify_erasures import erasures_unrecorded

log = logging.getLogger(__name__)

FETCH_ROWS = 5000
# Below this many links a forked process costs more than it saves.
PARALLEL_FROM = 200_000


@dataclass(frozen=True)
class Verdict:
    entries: int  # entries whose links were checked
    links: int
    head_seq: int
    head_hash: str
    problem: str = ""  # the first break found, in words; empty if the log is intact
    finding: dict = field(default_factory=dict)  # the same break as data (audit.findings)

    @property
    def key_missing(self) -> bool:
        """The walk stopped at an entry digested under a key the portal is not given: a
        retired key left out of AUDIT_PII_RETIRED_KEYS, or an entry's key id altered. By
        the whole of the problem's words: a value written into an entry (a reference) could
        hold those of a missing key, and pass tampering off as one."""
        return bool(_KEY_MISSING.fullmatch(self.problem))


_KEY_MISSING = re.compile(r"entry #\d+ \((begun|completed), link #\d+\) cannot be checked: "
                          rf"audit personal-data key \S+ {re.escape(KEY_UNKNOWN)}")


def verify_chain(*, workers: int | None = None,
                 kept: tuple[tuple[int, str], ...] = ()) -> Verdict:
    """Check every link up to the head, then the entries no link covers.

    `workers` is how many processes walk the chain (by default one per CPU, for a long one).
    `kept` are (link number, hash) pairs an earlier run printed as its head and someone kept
    outside the database: the chain must still hold each. Without them, a log cut back and
    its head moved back with it walks intact: that needs no key, only the rights of the
    tables' owner (the portal's own database role has not those, see docs/operations.md);
    nor does a log rewritten by someone who has the key.
    """
    with long_read():
        head = ChainHead.objects.filter(pk=ChainHead.ONLY).first()
        head_seq, head_hash = (head.seq, head.last_hash) if head else (0, GENESIS_HASH)
        if workers is None:
            workers = len(os.sched_getaffinity(0)) if head_seq >= PARALLEL_FROM else 1
        walked = _walk_all(_stretches(head_seq, workers))
        entries, links, problem = _joined(walked)
        problem = (problem or _head_unlike(walked[-1], head_hash) or _unlike_kept(kept)
                   or _loose_entries() or _beyond_head() or erasures_unrecorded())
        if problem is None:
            return Verdict(entries, links, head_seq, head_hash)
        return Verdict(entries, links, head_seq, head_hash, str(problem), problem.as_kept())


def chain_check_keep(verdict: Verdict) -> None:
    """Keep the verdict as the last check's, which the metrics page reports.

    A break the previous check had not found is told (signals.chain_broken) to the apps
    that e-mail staff; the same break found again is not told twice, unless the previous
    check says it found the chain intact (a row written by hand with the break's words
    kept the alert from ever going out). A key missing is never told: it is no tampering,
    and verify_audit tells whoever ran it which key to give back.
    """
    with transaction.atomic():
        check = ChainCheck(pk=ChainCheck.ONLY, checked_at=timezone.now(),
                           intact=not verdict.problem, links=verdict.links,
                           problem=verdict.problem, finding=verdict.finding)
        check.seal_now()
        before = _last_check_replaced(check)
        # A row not sealed by a check (written by hand, with a coming break's words) tells
        # nothing of what was told.
        if (verdict.problem and not verdict.key_missing
                and (before is None or not before.sealed or before.intact
                     or before.problem != verdict.problem)):
            chain_broken.send(sender=ChainCheck, check=check)


def _last_check_replaced(check: ChainCheck) -> ChainCheck | None:
    """Save `check` in place of the last check, locked first; returns that check, or None
    if there was none. The first two checks at once both find no row to lock: the later
    one's insert waits for the earlier's row (its key), fails, and then takes that row."""
    before = ChainCheck.objects.select_for_update().filter(pk=ChainCheck.ONLY).first()
    if before is None:
        try:
            with transaction.atomic():
                check.save(force_insert=True)
            return None
        except IntegrityError:
            before = ChainCheck.objects.select_for_update().get(pk=ChainCheck.ONLY)
    check.save(force_update=True)
    return before


def last_link_key_missing() -> str:
    """The id of the key the chain's last link was made under if this process is not given
    it, else "". The chain moved on to a key such a process (started before a rotation, or
    given a mistyped AUDIT_PII_KEY) lacks: it would find every newer link unverifiable, and
    tell staff of a break that is not; its check is left to those given the key."""
    last_link = (ChainHead.objects.filter(pk=ChainHead.ONLY)
                 .values_list("last_hash", flat=True).first() or "")
    return link_key_missing(last_link)


# When this process last checked the chain (or started): time.monotonic().
_checked_here = {"at": time.monotonic()}


def chain_check_if_due(hours: float) -> bool:
    """Verify and keep the verdict if the last check is older than `hours`; True if run.

    For the worker's schedule: a check that several workers start at once is harmless,
    they keep the same verdict and tell a break once. The last check's row may be written
    by whoever has the portal's database role: one kept fresh by hand would put off every
    check, so a process also checks once `hours` of its own pass without one.
    """
    if key_id := last_link_key_missing():
        log.warning("the audit chain's last link was made under key %s, which this process "
                    "is not given: its check is left to those that are; restart it with the "
                    "current AUDIT_PII_KEY", key_id)
        return False
    check = ChainCheck.objects.filter(pk=ChainCheck.ONLY).first()
    last = check.checked_at if check is not None and check.sealed else None
    # A check "made" later than now was written by hand, and would put off every next one.
    if (last is not None and timedelta(0) <= timezone.now() - last < timedelta(hours=hours)
            and time.monotonic() - _checked_here["at"] < hours * 3600):
        return False
    # In one process: the worker's other threads may hold locks a fork would copy held.
    chain_check_keep(verify_chain(workers=1))
    _checked_here["at"] = time.monotonic()
    return True


@dataclass
class _Stretch:
    """Links `first` to `last` of the chain, and what walking them found."""

    first: int
    last: int
    newest: bool  # ends at the head
    entries: int = 0
    links: int = 0
    problem: Finding | None = None
    carried: Counter = field(default_factory=Counter)  # carried-over entries by old table
    carried_over: dict | None = None  # what the carry-over entry says it moved
    last_hash: str = ""  # the stored hash of the last link walked
    # (key id, link, the link's values (findings.where), entries walked before it) of each
    # link made under another key than the link before it
    keys: list[tuple[str, int, dict, int]] = field(default_factory=list)


def _stretches(head_seq: int, count: int) -> list[_Stretch]:
    count = max(1, min(count, head_seq))
    bounds = [head_seq * n // count for n in range(count + 1)]
    return [_Stretch(bounds[n] + 1, bounds[n + 1], newest=n == count - 1)
            for n in range(count)]


def _walk_all(stretches: list[_Stretch]) -> list[_Stretch]:
    """Walk the first stretch here and each other one in a forked process."""
    if len(stretches) == 1:
        return [_walk(stretches[0])]
    with ProcessPoolExecutor(len(stretches) - 1, mp_context=get_context("fork"),
                             initializer=_own_connections) as pool:
        others = [pool.submit(_walk_in_child, stretch) for stretch in stretches[1:]]
        return [_walk(stretches[0]), *(other.result() for other in others)]


_inherited = []  # the parent's connections, kept from garbage collection (see below)


def _own_connections() -> None:
    """Give a forked process connections of its own.

    The parent's are still open in the parent: using them would mix two processes' traffic
    on one socket, and closing them (even by garbage collection) would end the parent's
    session. They are kept, unused, until the process exits without running finalizers.
    """
    for alias in connections:
        _inherited.append(connections[alias])
        connections[alias] = _inherited[-1].copy()


def _walk_in_child(stretch: _Stretch) -> _Stretch:
    with long_read():
        return _walk(stretch)


def _joined(stretches: list[_Stretch]) -> tuple[int, int, Finding | None]:
    """Entries and links checked, and the first break in chain order (or None)."""
    entries = links = 0
    carried, carried_over = Counter(), None
    keys_left, key = set(), None
    for stretch in stretches:
        # Its keys come before its break, if it has one: they were read off the links
        # walked up to it.
        for next_key, seq, link, entries_before in stretch.keys:
            if next_key == key:
                continue
            if next_key in keys_left:
                return (entries + entries_before, seq - 1,
                        _key_gone_back(next_key, link))
            # No link is made without a key once one was made with a key.
            keys_left |= {UNKEYED, key}
            key = next_key
        entries, links = entries + stretch.entries, links + stretch.links
        if stretch.problem:
            return entries, links, stretch.problem
        carried.update(stretch.carried)
        if stretch.carried_over is not None:
            carried_over = stretch.carried_over
    return entries, links, _carried_problem(carried_over, carried)


def _walk(stretch: _Stretch) -> _Stretch:
    """Check the stretch's links in order, each against the stored hash of the one before."""
    expected, previous = stretch.first, _hash_before(stretch.first)
    if previous is None:
        stretch.problem = Finding("link-missing", {"link": expected - 1})
        return stretch
    key = None
    # Both closed here, inside the read's transaction, wherever the walk stops: a cursor
    # left to the garbage collector (a reference cycle through an error's traceback keeps
    # it) is closed in whatever runs then, which on PostgreSQL fails or hangs it.
    with closing(_begun_links(stretch)) as begun, closing(_completed_links(stretch)) as done:
        for seq, pk, stage, stored, covered in heapq.merge(begun, done, key=itemgetter(0)):
            if seq == expected and not isinstance(covered, ImproperlyConfigured):
                try:
                    linked = _links(previous, seq, stage, covered[0], pk, stored)
                except ImproperlyConfigured as error:  # made under a key the portal lacks
                    linked, covered = False, error
                if linked:
                    previous, expected = stored, expected + 1
                    if (link_key := link_key_id(stored)) != key:
                        key = link_key
                        stretch.keys.append((key, seq, where(pk, stage, seq),
                                             stretch.entries))
                    if stage == BEGUN:
                        stretch.entries += 1
                        _count_carried(stretch, covered)
                    continue
            stretch.problem = _broken(where(pk, stage, seq), seq, expected, covered)
            break
    stretch.links, stretch.last_hash = expected - stretch.first, previous
    if not stretch.problem and expected <= stretch.last:
        stretch.problem = (
            Finding("newest-missing", {"first": expected, "last": stretch.last})
            if stretch.newest else Finding("link-missing", {"link": expected})
        )
    return stretch


def _links(previous: str, seq: int, stage: str, text: str, pk: int, stored: str) -> bool:
    """Whether the stored hash is the link's, under the key it names. A begun link covers
    its entry's id, or, made before links did (and before they were keyed), none: an entry
    whose id was changed matches neither, as its hash was made with the first. Raises
    ImproperlyConfigured for a key the portal is not given."""
    key_id = link_key_id(stored)
    if stage == BEGUN and link_hash(previous, seq, stage, text, entry_id=pk,
                                    key_id=key_id) == stored:
        return True
    if stage == BEGUN and key_id != UNKEYED:
        return False
    return link_hash(previous, seq, stage, text, key_id=key_id) == stored


def _key_gone_back(key_id: str, link: dict) -> Finding:
    """Why a link (`link`, its values) made under a key the chain had moved on from breaks
    it."""
    if key_id == UNKEYED:
        return Finding("link-unkeyed", link)
    return Finding("link-old-key", {**link, "key": key_id})


def _head_unlike(newest: _Stretch, head_hash: str) -> Finding | None:
    """The head must hold the last link's hash: it is the hash an operator keeps elsewhere
    to tell a log rewritten with its hashes made anew, which walks intact."""
    if newest.last_hash == head_hash:
        return None
    return Finding("head-unlike", {"link": newest.last})


def _unlike_kept(kept: tuple[tuple[int, str], ...]) -> Finding | None:
    """The first kept link the chain no longer holds as kept (or None)."""
    for seq, kept_hash in kept:
        stored = (Entry.objects.filter(begin_seq=seq).values_list("begin_hash", flat=True)
                  .first()
                  or Entry.objects.filter(complete_seq=seq).values_list("complete_hash",
                                                                        flat=True).first())
        if stored is None:
            return Finding("kept-gone", {"link": seq})
        if stored != kept_hash:
            return Finding("kept-unlike", {"link": seq, "hash": kept_hash[:16]})
    return None


def _broken(link: dict, seq: int, expected: int, covered) -> Finding:
    """Why the link (`link`, its values) breaks the chain."""
    if seq < expected:
        return Finding("link-taken", link)
    if seq > expected:
        return Finding("link-missing-before", {"missing": expected, **link})
    if isinstance(covered, ImproperlyConfigured):
        return Finding("key-unknown", {**link, "key": _key_unknown(covered)})
    return Finding("link-altered", link)


def _key_unknown(error: ImproperlyConfigured) -> str:
    """The id of the key audit.personal says it is not given."""
    return (str(error).removeprefix("audit personal-data key ")
            .removesuffix(f" {KEY_UNKNOWN}"))


def _hash_before(seq: int) -> str | None:
    """The stored hash of the link before `seq`, or None if no entry holds that link."""
    if seq == 1:
        return GENESIS_HASH
    before = seq - 1
    holder = (Entry.objects.filter(Q(begin_seq=before) | Q(complete_seq=before))
              .values_list("begin_seq", "begin_hash", "complete_hash").first())
    if holder is None:
        return None
    begin_seq, begin_hash, complete_hash = holder
    return begin_hash if begin_seq == before else complete_hash


def _count_carried(stretch: _Stretch, covered: tuple) -> None:
    _text, kind, details = covered
    if details.get("carried_from"):
        stretch.carried[str(details["carried_from"]).split(" #")[0]] += 1
    if kind == CARRIED_OVER.slug:
        stretch.carried_over = details


def _begun_links(stretch: _Stretch) -> Iterator[tuple]:
    """(seq, pk, stage, stored hash, (text, kind, details) or the error making the text)."""
    read = read_as_text(Entry, BEGUN_FIELDS)
    rows = (Entry.objects.filter(begin_seq__range=(stretch.first, stretch.last))
            .order_by("begin_seq").annotate(**read.annotations)
            .values_list("begin_seq", "pk", "begin_hash", "erased_at", *read.names)
            .iterator(chunk_size=FETCH_ROWS))
    # Closed with this generator, which the walk closes wherever it stops (see _walk).
    with closing(rows):
        for seq, pk, stored, erased_at, *values in rows:
            named = dict(zip(BEGUN_FIELDS, read.parse(values, moments=utc_text), strict=True))
            try:
                covered = (begun_text(named, erased=erased_at is not None), named["kind"],
                           named["details"] or {})
            except ImproperlyConfigured as error:
                covered = error
            yield seq, pk, BEGUN, stored, covered


def _completed_links(stretch: _Stretch) -> Iterator[tuple]:
    """(seq, pk, stage, stored hash, (text,) or the error making the text)."""
    read = read_as_text(Entry, COMPLETED_FIELDS)
    rows = (Entry.objects.filter(complete_seq__range=(stretch.first, stretch.last))
            .order_by("complete_seq").annotate(**read.annotations)
            .values_list("complete_seq", "pk", "complete_hash", "begin_hash", "kind", "pii_key",
                         "erased_at", *read.names)
            .iterator(chunk_size=FETCH_ROWS))
    with closing(rows):  # see _begun_links
        for seq, pk, stored, begin_hash, kind, pii_key, erased_at, *values in rows:
            named = dict(zip(COMPLETED_FIELDS, read.parse(values, moments=utc_text),
                             strict=True))
            try:
                covered = (completed_text(named, kind=kind, pii_key=pii_key,
                                          begin_hash=begin_hash,
                                          erased=erased_at is not None),)
            except ImproperlyConfigured as error:
                covered = error
            yield seq, pk, COMPLETED, stored, covered


def _carried_problem(carried_over: dict | None, carried: Counter) -> Finding | None:
    """Did the move from the old tables keep every entry it says it moved?"""
    if carried_over is None:
        return Finding("move-missing", {}) if carried else None
    for table, count in (carried_over.get("entries") or {}).items():
        if carried[table] != count:
            return Finding("move-unlike", {"count": count, "table": table,
                                           "found": carried[table]})
    return None


def _loose_entries() -> Finding | None:
    """The first entry the chain does not account for (or None)."""
    checks = [
        (Q(begin_seq__isnull=True), "entry-unlinked"),
        # The walk reads links 1 to the head: one numbered below is never read.
        (Q(begin_seq__lt=1) | Q(complete_seq__lt=1), "link-below-first"),
        (~Q(outcome=Outcome.PENDING) & Q(complete_seq__isnull=True), "outcome-unlinked"),
        (Q(outcome=Outcome.PENDING) & _completion_traces(), "pending-completed"),
    ]
    for condition, code in checks:
        pk = Entry.objects.filter(condition).order_by("pk").values_list("pk", flat=True).first()
        if pk is not None:
            return Finding(code, {"entry": pk})
    return None


def _beyond_head() -> Finding | None:
    """A link numbered past the head as it is now (not merely written during the walk)."""
    head_seq = ChainHead.objects.filter(pk=ChainHead.ONLY).values_list("seq", flat=True).first()
    beyond = Q(begin_seq__gt=head_seq or 0) | Q(complete_seq__gt=head_seq or 0)
    pk = Entry.objects.filter(beyond).order_by("pk").values_list("pk", flat=True).first()
    if pk is not None and head_seq is None:
        return Finding("head-missing", {})
    if pk is not None:
        return Finding("link-beyond-head", {"entry": pk})
    return None


def _completion_traces() -> Q:
    """Any completion value on an entry, which a pending entry must not have."""
    traces = Q(complete_seq__isnull=False) | ~Q(complete_hash="")
    for name in COMPLETED_FIELDS:
        field = Entry._meta.get_field(name)
        if name != "outcome":
            traces |= ~Q(**{name: field.get_default()})
    return traces
