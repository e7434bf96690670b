"""Erased entries against the erasures the log records: part of verify_audit.

An erasure replaces personal values by markers that say when and under which reference
(`audit.personal.marker`); the chain covers the digest a marker carries, not those words,
nor when the entry says it was erased (`erased_at`). Each erasure's own entry does record
them (its reason, the moment it names, and since 2026-12 the entries it erased), so an
erased entry must be one its erasure erased, begun before it in the chain's order (not by
the clocks of the machines that wrote them), every personal value of it a marker naming
that erasure: otherwise it was altered (a reference edited, a value put
back, an erasure claimed that never was). Whoever may write the tables can set an entry
erased and put markers in it whose digests are those its search terms keep.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from .kinds import ERASURE, get_kind
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


def erasures_unrecorded() -> str:
    """The first erased entry the recorded erasures do not account for, in words (or "")."""
    recorded = _recorded()
    erased = (Entry.objects.filter(erased_at__isnull=False).order_by("pk")
              .only("kind", "begin_seq", "sent", "messages", "detail", "erased_at"))
    for entry in erased.iterator():
        if problem := _unaccounted(entry, recorded):
            return f"entry #{entry.pk} {problem}: it was altered"
    return ""


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


def _unaccounted(entry: Entry, recorded: _Recorded) -> str:
    """Why the erased entry is not one a recorded erasure left, in words (or "")."""
    when = marker_when(entry.erased_at)
    if entry.erased_at in recorded.by_moment:
        reference, listed, erasure_begun = recorded.by_moment[entry.erased_at]
        references = {reference}
        if listed is not None and entry.pk not in listed:
            return (f"says it was erased at {entry.erased_at.isoformat()}, by an erasure that "
                    "did not erase it")
    elif when in recorded.older:
        references, erasure_begun = recorded.older[when]
    else:
        return (f"says it was erased at {entry.erased_at.isoformat()}, when no erasure "
                "recorded in the log was")
    # By the chain's order, which the erasure's hold of the chain's head makes the order
    # things happened in: the clocks of two machines may differ by a second, and an entry
    # written just before an erasure, by one ahead, was "written after" it.
    if entry.begin_seq > erasure_begun:
        return (f"says it was erased at {entry.erased_at.isoformat()}, by an erasure made "
                "before it was written")
    kind = get_kind(entry.kind)
    values = {"sent": entry.sent, "messages": entry.messages, "detail": entry.detail}
    for container, key in places(values, kind.personal if kind else ()):
        marking = marker_erasure(container[key])
        if marking is None:
            return "says it was erased, yet holds a personal value that no erasure's marker " \
                   "stands for: a value was put back"
        if marking[0] != when or marking[1] not in references:
            return (f"has a value erased on {marking[0]} under “{marking[1]}”, not by the "
                    "erasure it names, nor one the log records")
    return ""
