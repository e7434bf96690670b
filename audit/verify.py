"""Walking the hash chain: is the audit log exactly as it was written?

The head is read first and only links up to it are walked, so entries written while the
walk runs are left for the next one instead of looking like tampering.
"""

import heapq
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q

from .chain import (
    BEGUN,
    BEGUN_FIELDS,
    COMPLETED,
    COMPLETED_FIELDS,
    begun_text,
    completed_text,
    link_hash,
)
from .fastread import iso_dates, read_as_text
from .kinds import CARRIED_OVER
from .models import GENESIS_HASH, ChainHead, Entry, Outcome

FETCH_ROWS = 5000


@dataclass(frozen=True)
class Verdict:
    entries: int  # entries whose links were checked
    links: int
    head_seq: int
    head_hash: str
    problem: str = ""  # the first break found, in words; empty if the log is intact


def verify_chain() -> Verdict:
    """Check every link up to the head, then the entries no link covers."""
    with transaction.atomic():
        iso_dates()
        head = ChainHead.objects.filter(pk=ChainHead.ONLY).first()
        head_seq, head_hash = (head.seq, head.last_hash) if head else (0, GENESIS_HASH)
        entries, links, problem = _walk(head_seq)
        problem = problem or _loose_entries() or _beyond_head()
        return Verdict(entries, links, head_seq, head_hash, problem)


def _walk(head_seq: int) -> tuple[int, int, str]:
    """Entries and links checked, and the first break in the chain (or "")."""
    expected, previous, entries = 1, GENESIS_HASH, 0
    carried, carried_over = Counter(), None
    links = heapq.merge(_begun_links(head_seq), _completed_links(head_seq), key=itemgetter(0))
    for seq, pk, stage, stored, text in links:
        where = f"entry #{pk} ({stage}, link #{seq})"
        if seq < expected:
            return entries, expected - 1, (
                f"{where} claims a link already taken: it was inserted out of order"
            )
        if seq > expected:
            return entries, expected - 1, (
                f"link #{expected} is missing: an entry was removed (the next link is {where})"
            )
        try:
            covered = text()
        except ImproperlyConfigured as error:
            return entries, expected - 1, f"{where} cannot be checked: {error}"
        if link_hash(previous, seq, stage, covered.text) != stored:
            return entries, expected - 1, (
                f"{where} does not match its hash: it was altered or moved in the chain"
            )
        previous, expected = stored, expected + 1
        entries += stage == BEGUN
        if covered.carried_from:
            carried[covered.carried_from] += 1
        if covered.carried_over is not None:
            carried_over = covered.carried_over
    links = expected - 1
    if links < head_seq:
        return entries, links, (
            f"links #{links + 1} to #{head_seq} are missing: the newest entries were removed"
        )
    return entries, links, _carried_problem(carried_over, carried)


@dataclass(frozen=True)
class _Covered:
    text: str
    carried_from: str = ""  # the old table a carried-over entry came from
    carried_over: dict | None = None  # what the carry-over entry says it moved


def _begun_links(head_seq: int) -> Iterator[tuple]:
    read = read_as_text(Entry, BEGUN_FIELDS)
    rows = (Entry.objects.filter(begin_seq__lte=head_seq).order_by("begin_seq")
            .annotate(**read.annotations)
            .values_list("begin_seq", "pk", "begin_hash", *read.names)
            .iterator(chunk_size=FETCH_ROWS))
    for seq, pk, stored, *values in rows:
        yield seq, pk, BEGUN, stored, _begun_covered(values, read)


def _begun_covered(values, read):
    def covered() -> _Covered:
        named = dict(zip(BEGUN_FIELDS, read.parse(values), strict=True))
        details = named["details"] or {}
        return _Covered(
            begun_text(named), carried_from=str(details.get("carried_from", "")).split(" #")[0],
            carried_over=details if named["kind"] == CARRIED_OVER.slug else None,
        )

    return covered


def _completed_links(head_seq: int) -> Iterator[tuple]:
    read = read_as_text(Entry, COMPLETED_FIELDS)
    rows = (Entry.objects.filter(complete_seq__lte=head_seq).order_by("complete_seq")
            .annotate(**read.annotations)
            .values_list("complete_seq", "pk", "complete_hash", "begin_hash", "kind", "pii_key",
                         *read.names)
            .iterator(chunk_size=FETCH_ROWS))
    for seq, pk, stored, begin_hash, kind, pii_key, *values in rows:
        yield seq, pk, COMPLETED, stored, _completed_covered(values, read, kind, pii_key,
                                                             begin_hash)


def _completed_covered(values, read, kind, pii_key, begin_hash):
    def covered() -> _Covered:
        named = dict(zip(COMPLETED_FIELDS, read.parse(values), strict=True))
        return _Covered(completed_text(named, kind=kind, pii_key=pii_key, begin_hash=begin_hash))

    return covered


def _carried_problem(carried_over: dict | None, carried: Counter) -> str:
    """Did the move from the old tables keep every entry it says it moved?"""
    if carried_over is None:
        return "" if not carried else "entries say they were carried over, but no entry " \
            "records the move: it was removed"
    for table, count in (carried_over.get("entries") or {}).items():
        if carried[table] != count:
            return (f"{count} entries of {table} were carried over, but {carried[table]} "
                    "are in the log: some were lost or added")
    return ""


def _loose_entries() -> str:
    """The first entry the chain does not account for, in words (or "")."""
    checks = [
        (Q(begin_seq__isnull=True),
         "is not in the chain: it was inserted behind the portal's back"),
        (~Q(outcome=Outcome.PENDING) & Q(complete_seq__isnull=True),
         "has an outcome but no completed link: it was altered"),
        (Q(outcome=Outcome.PENDING) & _completion_traces(),
         "is pending yet carries a completion: it was altered"),
    ]
    for condition, words in checks:
        pk = Entry.objects.filter(condition).order_by("pk").values_list("pk", flat=True).first()
        if pk is not None:
            return f"entry #{pk} {words}"
    return ""


def _beyond_head() -> str:
    """A link numbered past the head as it is now (not merely written during the walk)."""
    head_seq = ChainHead.objects.filter(pk=ChainHead.ONLY).values_list("seq", flat=True).first()
    beyond = Q(begin_seq__gt=head_seq or 0) | Q(complete_seq__gt=head_seq or 0)
    pk = Entry.objects.filter(beyond).order_by("pk").values_list("pk", flat=True).first()
    if pk is not None and head_seq is None:
        return "the chain's head row is missing although entries are linked: it was deleted"
    if pk is not None:
        return f"entry #{pk} has a link beyond the chain's head: it was inserted out of order"
    return ""


def _completion_traces() -> Q:
    """Any completion value on an entry, which a pending entry must not have."""
    traces = Q(complete_seq__isnull=False) | ~Q(complete_hash="")
    for name in COMPLETED_FIELDS:
        field = Entry._meta.get_field(name)
        if name != "outcome":
            traces |= ~Q(**{name: field.get_default()})
    return traces
