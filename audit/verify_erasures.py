"""Erased entries against the erasures the log records: part of verify_audit.

An erasure replaces personal values by markers that say when and under which reference
(`audit.personal.marker`); the chain covers the digest a marker carries, not those words,
nor when the entry says it was erased (`erased_at`). Each erasure's own entry does record
them (its reason, the moment it names, and since 2026-12 the entries it erased), so an
erased entry must be one its erasure erased, begun before it in the chain's order (not by
the clocks of the machines that wrote them), every personal value of it a marker naming
that erasure (but a detail that is one of the portal's own not-sent texts, which an erasure
keeps, `audit.kinds.personal_held`, and the chain covers as any value): otherwise it was
altered (a reference edited, a value put back, an erasure claimed that never was). Whoever
may write the tables can set an entry erased and put markers in it whose digests are those
its search terms keep.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from .findings import Finding
from .kinds import ERASURE, get_kind, personal_held
from .models import Entry
from .personal import marker_erasure, marker_when, places

# Erasure entries made before they named their moment (2026-12) are matched by the minute
# they were written in, or the one before: the erasure's moment came first.
_OLDER_LAG = (timedelta(0), timedelta(minutes=1))


@dataclass(frozen=True)
class _Recorded:
    """The erasures the log records: by their moment, and the older ones by their minute."""

    # moment -> (reference, the ids of the entries it erased or None if it did not name
    # them, its own entry's begun link)
    by_moment: dict[datetime, tuple[str, frozenset | None, int]]
    # minute as markers write it -> (references erased in it, the last one's begun link)
    older: dict[str, tuple[set[str], int]]


def erasures_unrecorded() -> Finding | None:
    """The first erased entry the recorded erasures do not account for (or None)."""
    recorded = _recorded()
    erased = (Entry.objects.filter(erased_at__isnull=False).order_by("pk")
              .only("kind", "begin_seq", "sent", "messages", "detail", "erased_at"))
    for entry in erased.iterator():
        if problem := _unaccounted(entry, recorded):
            code, values = problem
            return Finding(code, {"entry": entry.pk, **values})
    return None


def _recorded() -> _Recorded:
    by_moment, older = {}, {}
    for details, reference, created_at, begun in Entry.objects.filter(
            kind=ERASURE.slug).values_list("details", "reason", "created_at", "begin_seq"):
        if at := (details or {}).get("erased_at"):
            listed = details.get("entries")
            by_moment[datetime.fromisoformat(at)] = (
                reference, frozenset(listed) if isinstance(listed, list) else None, begun)
        else:
            for minute in {marker_when(created_at - lag) for lag in _OLDER_LAG}:
                references, last = older.get(minute, (set(), begun))
                older[minute] = ({*references, reference}, max(last, begun))
    return _Recorded(by_moment, older)


def _unaccounted(entry: Entry, recorded: _Recorded) -> tuple[str, dict] | None:
    """Why the erased entry is not one a recorded erasure left: the kind of break
    (audit.findings) and its values but the entry's (or None)."""
    when = marker_when(entry.erased_at)
    if entry.erased_at in recorded.by_moment:
        reference, listed, erasure_begun = recorded.by_moment[entry.erased_at]
        references = {reference}
        if listed is not None and entry.pk not in listed:
            return "erased-by-another", {"erased_at": entry.erased_at.isoformat()}
    elif when in recorded.older:
        references, erasure_begun = recorded.older[when]
    else:
        return "erased-unrecorded", {"erased_at": entry.erased_at.isoformat()}
    # By the chain's order, which the erasure's hold of the chain's head makes the order
    # things happened in: the clocks of two machines may differ by a second, and an entry
    # written just before an erasure, by one ahead, was "written after" it.
    if entry.begin_seq > erasure_begun:
        return "erased-before-written", {"erased_at": entry.erased_at.isoformat()}
    kind = get_kind(entry.kind)
    values = {"sent": entry.sent, "messages": entry.messages, "detail": entry.detail}
    for container, key in places(values, personal_held(kind, values) if kind else ()):
        marking = marker_erasure(container[key])
        if marking is None:
            return "value-put-back", {}
        if marking[0] != when or marking[1] not in references:
            return "marker-unrecorded", {"minute": marking[0], "reference": marking[1]}
    return None
