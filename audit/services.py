"""Reading the audit trail: who may see what, the filtered timeline page by page, one entry.

The timeline is not a table of its own: each kind of entry is queried with the same
filters, newest first and at most a page plus one at a time, and the results are merged.
Pages are keyset pages ("older than this entry"), so no query ever counts or skips a
million rows, and every query walks one of the `timeline_indexes()`.
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse

from records.phones import normalise_phone, phone_key

from .diff import FieldChange, field_changes
from .kinds import EntryKind, all_kinds, get_kind

PAGE_SIZE = 50
MAX_ID = 2**63 - 1  # the largest id a database can hold; anything above is simply unknown
AUDIT_VIEW_PERMISSION = "audit.view_audit_trail"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TimelineFilters:
    actor_id: int | None = None
    campaign_id: int | None = None
    kind: str = ""
    outcome: str = ""
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    search: str = ""


@dataclass(frozen=True)
class Cursor:
    """An entry's place in the timeline: newest first by time, then kind, then id."""

    created_at: datetime
    kind: str
    pk: int

    def token(self) -> str:
        micros = round((self.created_at - _EPOCH).total_seconds() * 1_000_000)
        return f"{micros}.{self.kind}.{self.pk}"

    @classmethod
    def parse(cls, token: str) -> "Cursor":
        """The cursor in a page link; raises ValueError for anything not made by token()."""
        if len(token) > 100:
            raise ValueError(token)
        micros, kind, pk = token.split(".")
        try:
            created_at = _EPOCH + timedelta(microseconds=int(micros))
        except OverflowError:
            raise ValueError(token) from None
        if get_kind(kind) is None or not 0 < int(pk) <= MAX_ID:
            raise ValueError(token)
        return cls(created_at, kind, int(pk))


@dataclass(frozen=True)
class TimelineRow:
    kind: EntryKind
    entry: object

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.entry.created_at, self.kind.slug, self.entry.pk)

    @property
    def summary(self) -> str:
        return self.kind.summary(self.entry)

    @property
    def url(self) -> str:
        return entry_url(self.kind, self.entry.pk)


@dataclass(frozen=True)
class TimelinePage:
    rows: list[TimelineRow]
    older: Cursor | None  # the last row, when older entries exist
    newer: Cursor | None  # the first row, when newer entries exist


def may_see_everyone(user) -> bool:
    return user.has_perm(AUDIT_VIEW_PERMISSION)


def visible_filters(*, viewer, filters: TimelineFilters) -> TimelineFilters:
    """The filters narrowed to the viewer's own actions unless they may see everyone's."""
    if may_see_everyone(viewer):
        return filters
    return replace(filters, actor_id=viewer.pk)


def timeline_page(*, viewer, filters: TimelineFilters, before: Cursor | None = None,
                  after: Cursor | None = None) -> TimelinePage:
    """One page, newest first: the first one, or the one older or newer than a cursor."""
    filters = visible_filters(viewer=viewer, filters=filters)
    if after is not None:
        rows = _fetch(filters, after, older=False)
        if len(rows) <= PAGE_SIZE:
            # Nothing newer than this page: show the newest page itself, full.
            return timeline_page(viewer=viewer, filters=filters)
        rows = rows[:PAGE_SIZE][::-1]
        return TimelinePage(rows, older=rows[-1].cursor, newer=rows[0].cursor)
    rows = _fetch(filters, before, older=True)
    shown = rows[:PAGE_SIZE]
    older = shown[-1].cursor if len(rows) > PAGE_SIZE else None
    newer = shown[0].cursor if before is not None and shown else None
    return TimelinePage(shown, older=older, newer=newer)


def selected_kinds(filters: TimelineFilters) -> list[EntryKind]:
    return [kind for kind in all_kinds() if not filters.kind or kind.slug == filters.kind]


def kind_query(kind: EntryKind, filters: TimelineFilters) -> Q:
    """The filters as a condition on one kind's table."""
    query = Q()
    if filters.actor_id is not None:
        query &= Q(actor_id=filters.actor_id)
    if filters.campaign_id is not None:
        query &= Q(campaign_id=filters.campaign_id)
    if filters.outcome:
        query &= Q(outcome=filters.outcome)
    if filters.since is not None:
        query &= Q(created_at__gte=filters.since)
    if filters.until is not None:
        query &= Q(created_at__lt=filters.until)
    if filters.search:
        query &= _search_query(kind, filters.search)
    return query


def entry_for(*, viewer, kind_slug: str, pk: int) -> tuple[EntryKind, object]:
    """The entry and its kind; raises Http404 if unknown, PermissionDenied if not the viewer's."""
    kind = get_kind(kind_slug)
    if kind is None or not 0 < pk <= MAX_ID:
        raise Http404
    entry = get_object_or_404(kind.model.objects.select_related("campaign"), pk=pk)
    if entry.actor_id != viewer.pk and not may_see_everyone(viewer):
        raise PermissionDenied
    return kind, entry


def former_username(actor_id: int) -> str:
    """The name a (possibly deleted) user's entries carry, or "" if they have none."""
    for kind in all_kinds():
        name = (kind.model.objects.filter(actor_id=actor_id)
                .values_list("actor_username", flat=True).first())
        if name:
            return name
    return ""


def entry_changes(kind: EntryKind, entry) -> list[FieldChange]:
    """What the entry asked Thulium to change, field by field, old to new."""
    before = getattr(entry, kind.before_field) if kind.before_field else {}
    return field_changes(before, entry.sent)


def entry_url(kind: EntryKind, pk: int) -> str:
    return reverse("audit:entry", args=[kind.slug, pk])


def _fetch(filters: TimelineFilters, cursor: Cursor | None, *, older: bool) -> list[TimelineRow]:
    """Up to a page plus one rows of every selected kind beyond the cursor, merged in order."""
    order = ("-created_at", "-pk") if older else ("created_at", "pk")
    rows = []
    for kind in selected_kinds(filters):
        query = kind_query(kind, filters)
        if cursor is not None:
            query &= _beyond(kind, cursor, older=older)
        entries = (kind.model.objects.filter(query).select_related("campaign")
                   .order_by(*order)[:PAGE_SIZE + 1])
        rows.extend(TimelineRow(kind, entry) for entry in entries)
    rows.sort(key=lambda row: (row.entry.created_at, row.kind.slug, row.entry.pk), reverse=older)
    return rows


def _beyond(kind: EntryKind, cursor: Cursor, *, older: bool) -> Q:
    """Rows of this kind strictly older (or newer) than the cursor.

    Written as a bound on created_at plus a small exclusion, so the database can start its
    index scan at the cursor instead of filtering from the newest row down.
    """
    at = cursor.created_at
    if older:
        if kind.slug < cursor.kind:
            return Q(created_at__lte=at)
        if kind.slug > cursor.kind:
            return Q(created_at__lt=at)
        return Q(created_at__lte=at) & ~Q(created_at=at, pk__gte=cursor.pk)
    if kind.slug > cursor.kind:
        return Q(created_at__gte=at)
    if kind.slug < cursor.kind:
        return Q(created_at__gt=at)
    return Q(created_at__gte=at) & ~Q(created_at=at, pk__lte=cursor.pk)


def _search_query(kind: EntryKind, text: str) -> Q:
    # Exact matches only: each is one index lookup, where a substring search would read
    # every row.
    query = Q()
    for name in kind.search_fields:
        query |= Q(**{name: text})
    if kind.phone_field:
        try:
            query |= Q(**{kind.phone_field: phone_key(normalise_phone(text))})
        except ValidationError:
            pass  # not a phone number: the other fields may still match
    return query or Q(pk__in=[])
