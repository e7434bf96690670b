"""Erased entries against the erasures the log records: part of verify_audit.

An erasure replaces personal values by markers that say when and under which reference
(`audit.personal.marker`); the chain covers the digest a marker carries, not those words,
nor when the entry says it was erased (`erased_at`). Each erasure's own entry does record
them (its reason, the moment it names, and since 2026-12 the entries it erased), so an entry
whose markers or time no erasure entry records was altered: a reference edited, or an
erasure claimed that never was. So was an entry that holds markers but says it was never
erased: whoever may write the tables can put a marker in a number's place, its digest
being the one a search term keeps.
"""

from datetime import datetime, timedelta

from django.db.models import Q, TextField
from django.db.models.functions import Cast

from .kinds import ERASURE, get_kind
from .models import Entry
from .personal import marker_erasure, marker_when, places

# Erasure entries made before they named their moment (2026-12) are matched by the minute
# they were written in, or the one before: the erasure's moment came first.
_OLDER_LAG = (timedelta(0), timedelta(minutes=1))
_ERASABLE = ("sent", "messages", "detail")


def erasures_unrecorded() -> str:
    """The first erased entry the recorded erasures do not account for, in words (or "")."""
    moments, markings, older = {}, set(), set()
    for details, reference, created_at in Entry.objects.filter(kind=ERASURE.slug).values_list(
            "details", "reason", "created_at"):
        if at := (details or {}).get("erased_at"):
            moment = datetime.fromisoformat(at)
            # The entries it erased, or None from an erasure made before it named them.
            listed = details.get("entries")
            moments[moment] = set(listed) if isinstance(listed, list) else None
            markings.add((marker_when(moment), reference))
        else:
            older |= {(marker_when(created_at - lag), reference) for lag in _OLDER_LAG}
    recorded = markings | older
    recorded_times = {when for when, _reference in recorded}
    older_times = {when for when, _reference in older}
    erased = (Entry.objects.filter(erased_at__isnull=False).order_by("pk")
              .only("kind", *_ERASABLE, "erased_at"))
    for entry in erased.iterator():
        if entry.erased_at not in moments and marker_when(entry.erased_at) not in older_times:
            return (f"entry #{entry.pk} says it was erased at {entry.erased_at.isoformat()}, "
                    "when no erasure recorded in the log was: it was altered")
        if (listed := moments.get(entry.erased_at)) is not None and entry.pk not in listed:
            return (f"entry #{entry.pk} says it was erased at {entry.erased_at.isoformat()}, "
                    "by an erasure that did not erase it: it was altered")
        for marking in _markings(entry):
            # An answer erased after its entry's erasure names it by its time alone when it
            # finds no marker to take the reference from (audit.recording._answers_erased).
            if marking not in recorded and not (marking[1] == ""
                                                and marking[0] in recorded_times):
                return (f"entry #{entry.pk} has a value erased on {marking[0]} under "
                        f"“{marking[1]}”, an erasure the log does not record: it was altered")
    return _marked_yet_never_erased()


def _marked_yet_never_erased() -> str:
    """The first entry that holds an erasure marker where its kind keeps personal data but
    says it was never erased, in words (or "")."""
    looks_marked = Q()
    for name in _ERASABLE:
        looks_marked |= Q(**{f"{name}_text__contains": "[erased "})
    candidates = (Entry.objects.filter(erased_at__isnull=True)
                  .alias(**{f"{name}_text": Cast(name, TextField()) for name in _ERASABLE})
                  .filter(looks_marked).order_by("pk").only("kind", *_ERASABLE))
    for entry in candidates.iterator():
        if _markings(entry):
            return (f"entry #{entry.pk} holds an erasure's marker, but says it was never "
                    "erased: it was altered")
    return ""


def _markings(entry: Entry) -> set[tuple[str, str]]:
    """(when, reference) of each erasure marker among the entry's personal values."""
    kind = get_kind(entry.kind)
    values = {name: getattr(entry, name) for name in _ERASABLE}
    return {found for container, key in places(values, kind.personal if kind else ())
            if (found := marker_erasure(container[key]))}
