"""Walking the hash chain: is the audit trail exactly as it was written?

The head is read first and only links up to it are walked, so entries written while the
walk runs are left for the next one instead of looking like tampering.
"""

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter

from django.db import transaction
from django.db.models import Q

from portal.auditing import Outcome

from .chain import (
    BEGUN,
    COMPLETED,
    begun_fields,
    chained_models,
    completed_fields,
    link_hash,
    payload,
)
from .fastread import iso_dates, read_as_text
from .models import GENESIS_HASH, ChainHead

FETCH_ROWS = 5000


@dataclass(frozen=True)
class Verdict:
    entries: int  # entries whose links were checked
    links: int
    head_seq: int
    head_hash: str
    problem: str = ""  # the first break found, in words; empty if the trail is intact


def verify_chain() -> Verdict:
    """Check every link up to the head, then the rows no link covers."""
    with transaction.atomic():
        iso_dates()
        head = ChainHead.objects.filter(pk=ChainHead.ONLY).first()
        head_seq, head_hash = (head.seq, head.last_hash) if head else (0, GENESIS_HASH)
        entries, links, problem = _walk(head_seq)
        problem = problem or _loose_rows() or _beyond_head()
        return Verdict(entries, links, head_seq, head_hash, problem)


def _walk(head_seq: int) -> tuple[int, int, str]:
    """Entries and links checked, and the first break in the chain (or "")."""
    streams = []
    for model in chained_models():
        streams += [_begun_links(model, head_seq), _completed_links(model, head_seq)]
    expected, previous, entries = 1, GENESIS_HASH, 0
    for seq, label, pk, stage, stored, values in heapq.merge(*streams, key=itemgetter(0)):
        where = f"{label} #{pk} ({stage}, link #{seq})"
        if seq < expected:
            return entries, expected - 1, (
                f"{where} claims a link already taken: it was inserted out of order"
            )
        if seq > expected:
            return entries, expected - 1, (
                f"link #{expected} is missing: an entry was removed (the next link is {where})"
            )
        if link_hash(previous, seq, label, stage, payload(values)) != stored:
            return entries, expected - 1, (
                f"{where} does not match its hash: it was altered or moved in the chain"
            )
        previous, expected = stored, expected + 1
        entries += stage == BEGUN
    links = expected - 1
    if links < head_seq:
        return entries, links, (
            f"links #{links + 1} to #{head_seq} are missing: the newest entries were removed"
        )
    return entries, links, ""


def _begun_links(model, head_seq: int) -> Iterator[tuple]:
    label, names = model._meta.label_lower, begun_fields(model)
    read = read_as_text(model, names)
    rows = (model.objects.filter(begin_seq__lte=head_seq).order_by("begin_seq")
            .annotate(**read.annotations)
            .values_list("begin_seq", "pk", "begin_hash", *read.names)
            .iterator(chunk_size=FETCH_ROWS))
    for seq, pk, stored, *values in rows:
        yield seq, label, pk, BEGUN, stored, dict(zip(names, read.parse(values), strict=True))


def _completed_links(model, head_seq: int) -> Iterator[tuple]:
    label, names = model._meta.label_lower, completed_fields(model)
    read = read_as_text(model, names)
    rows = (model.objects.filter(complete_seq__lte=head_seq).order_by("complete_seq")
            .annotate(**read.annotations)
            .values_list("complete_seq", "pk", "complete_hash", "begin_hash", *read.names)
            .iterator(chunk_size=FETCH_ROWS))
    for seq, pk, stored, begin_hash, *values in rows:
        yield seq, label, pk, COMPLETED, stored, {
            "begin_hash": begin_hash, **dict(zip(names, read.parse(values), strict=True)),
        }


def _loose_rows() -> str:
    """The first row the chain does not account for, in words (or "")."""
    for model in chained_models():
        label = model._meta.label_lower
        checks = [
            (Q(begin_seq__isnull=True),
             "is not in the chain: it was inserted behind the portal's back"),
            (~Q(outcome=Outcome.PENDING) & Q(complete_seq__isnull=True),
             "has an outcome but no completed link: it was altered"),
            (Q(outcome=Outcome.PENDING) & _completion_traces(model),
             "is pending yet carries a completion: it was altered"),
        ]
        for condition, words in checks:
            pk = model.objects.filter(condition).order_by("pk").values_list("pk", flat=True).first()
            if pk is not None:
                return f"{label} #{pk} {words}"
    return ""


def _beyond_head() -> str:
    """A link numbered past the head as it is now (not merely written during the walk)."""
    head_seq = ChainHead.objects.filter(pk=ChainHead.ONLY).values_list("seq", flat=True).first()
    for model in chained_models():
        beyond = Q(begin_seq__gt=head_seq or 0) | Q(complete_seq__gt=head_seq or 0)
        pk = model.objects.filter(beyond).order_by("pk").values_list("pk", flat=True).first()
        if pk is not None and head_seq is None:
            return "the chain's head row is missing although entries are linked: it was deleted"
        if pk is not None:
            return (f"{model._meta.label_lower} #{pk} has a link beyond the chain's head: "
                    "it was inserted out of order")
    return ""


def _completion_traces(model) -> Q:
    """Any completion value on a row, which a pending row must not have."""
    traces = Q(complete_seq__isnull=False) | ~Q(complete_hash="")
    for name in model.completion_fields:
        field = model._meta.get_field(name)
        if name != "outcome":
            traces |= ~Q(**{name: field.get_default()})
    return traces
