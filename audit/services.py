"""Reading the audit log: who may see what, the filtered timeline page by page, one entry.

One rule everywhere (the timeline, a campaign's history, the entry page, the exports): an
auditor sees every entry; anyone else sees their own entries in full and, of another
user's, only the kind, the time and the outcome. Pages are keyset pages ("older than
this entry"), so no query ever counts or skips a million rows, and every query walks one
of the entry table's indexes.
"""

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404

from portal.ids import MAX_ID, id_from_text
from portal.phones import normalise_phone, phone_key

from .diff import FieldChange, field_changes
from .kinds import EntryKind, all_kinds, kind_of, value_at
from .models import Entry, Outcome, SearchTerm
from .personal import digests_under_every_key, number_digests_ever
from .shown_erasures import entry_shown

PAGE_SIZE = 50
# The outcome filter's value for the entries that read "not sent" (`not_sent`).
NOT_SENT = "not_sent"
AUDIT_VIEW_PERMISSION = "audit.view_audit_trail"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SHA256 = re.compile(r"[0-9A-Fa-f]{64}")  # an import's file, as its receipt names it


@dataclass(frozen=True)
class TimelineFilters:
    actor_id: int | None = None
    # Only the entries of no user: the portal's own doing (its worker's, a command's).
    by_portal: bool = False
    campaign_id: int | None = None
    kind: str = ""
    outcome: str = ""
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    search: str = ""


@dataclass(frozen=True)
class Cursor:
    """An entry's place in the timeline: newest first by time, then id."""

    created_at: datetime
    pk: int

    def token(self) -> str:
        micros = round((self.created_at - _EPOCH).total_seconds() * 1_000_000)
        return f"{micros}.{self.pk}"

    @classmethod
    def parse(cls, token: str) -> "Cursor":
        """The cursor in a page link; raises ValueError for anything not made by token()."""
        if len(token) > 60:
            raise ValueError(token)
        micros, pk_text = token.split(".")
        try:
            created_at = _EPOCH + timedelta(microseconds=int(micros))
        except OverflowError:
            raise ValueError(token) from None
        pk = id_from_text(pk_text)
        if not pk:
            raise ValueError(token)
        return cls(created_at, pk)


@dataclass(frozen=True)
class TimelineRow:
    entry: Entry
    visible: bool  # False: the viewer sees only the kind, the time and the outcome

    @property
    def kind(self) -> EntryKind:
        return kind_of(self.entry)

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.entry.created_at, self.entry.pk)

    @property
    def summary(self) -> str:
        """Its line, an erased value in the reader's words, as on the entry's page."""
        return self.kind.summary(entry_shown(self.entry)) if self.visible else ""


@dataclass(frozen=True)
class TimelinePage:
    rows: list[TimelineRow]
    older: Cursor | None  # the last row, when older entries exist
    newer: Cursor | None  # the first row, when newer entries exist


def may_see_everyone(user) -> bool:
    return user.has_perm(AUDIT_VIEW_PERMISSION)


def may_see_entry(viewer, entry) -> bool:
    """True when the viewer may open the entry: their own, or anyone's with the permission."""
    return viewer.is_authenticated and (entry.actor_id == viewer.pk or may_see_everyone(viewer))


def visible_filters(*, viewer, filters: TimelineFilters) -> TimelineFilters:
    """The filters the viewer may apply.

    Choosing a user or searching would tell whose entries the hidden ones are, so for
    someone without the permission both apply to their own entries only.
    """
    if may_see_everyone(viewer) or not (filters.actor_id or filters.search):
        return filters
    return replace(filters, actor_id=viewer.pk)


def timeline_page(*, viewer, filters: TimelineFilters, before: Cursor | None = None,
                  after: Cursor | None = None, size: int = PAGE_SIZE) -> TimelinePage:
    """One page, newest first: the first one, or the one older or newer than a cursor."""
    filters = visible_filters(viewer=viewer, filters=filters)
    if after is not None:
        rows = _fetch(viewer, filters, after, older=False, size=size)
        if len(rows) <= size:
            # Nothing newer than this page: show the newest page itself, full.
            return timeline_page(viewer=viewer, filters=filters, size=size)
        rows = rows[:size][::-1]
        return TimelinePage(rows, older=rows[-1].cursor, newer=rows[0].cursor)
    rows = _fetch(viewer, filters, before, older=True, size=size)
    shown = rows[:size]
    older = shown[-1].cursor if len(rows) > size else None
    newer = shown[0].cursor if before is not None and shown else None
    return TimelinePage(shown, older=older, newer=newer)


def entries_matching(filters: TimelineFilters):
    """The entries the filters select, in no order."""
    query = Q()
    if filters.actor_id is not None:
        query &= Q(actor_id=filters.actor_id)
    if filters.by_portal:
        query &= Q(actor__isnull=True)
    if filters.campaign_id is not None:
        query &= Q(campaign_id=filters.campaign_id)
    if filters.kind:
        query &= Q(kind=filters.kind)
    if filters.outcome:
        query &= outcome_shown(filters.outcome)
    if filters.since is not None:
        query &= Q(created_at__gte=filters.since)
    if filters.until is not None:
        query &= Q(created_at__lt=filters.until)
    if filters.search:
        # One look in each index, the two joined: with an OR of the two, PostgreSQL walked
        # the whole log by time for a term that few entries hold (half a second at a million).
        found = (Entry.objects.filter(request_id=filters.search).order_by().values("pk")
                 .union(SearchTerm.objects.filter(term__in=terms_searched_for(filters.search))
                        .order_by().values("entry_id"), all=True))
        query &= Q(pk__in=found)
    return Entry.objects.filter(query)


def outcome_shown(outcome: str) -> Q:
    """The entries whose outcome reads as `outcome` on their page and the timeline: a step
    its kind records (`step_choice`, "change-request.rejected"), shown in place of the
    succeeded it is stored with; NOT_SENT, shown in place of the failed a call not made is
    stored with (`not_sent`); or an outcome, "succeeded" and "failed" then of the other
    entries only."""
    slug, dot, step = outcome.partition(".")
    if dot:
        return Q(kind=slug, outcome=Outcome.SUCCEEDED, details__step=step)
    never_sent = Q(pk__in=[])
    for kind in all_kinds():
        if kind.not_sent_details:
            never_sent |= Q(kind=kind.slug, detail__in=kind.not_sent_details)
    if outcome == NOT_SENT:
        return Q(outcome=Outcome.FAILED) & never_sent
    if outcome == Outcome.FAILED:
        return Q(outcome=outcome) & ~never_sent
    stepped = [kind.slug for kind in all_kinds() if kind.steps]
    if outcome == Outcome.SUCCEEDED and stepped:
        return Q(outcome=outcome) & ~Q(kind__in=stepped)
    return Q(outcome=outcome)


def not_sent(entry) -> bool:
    """Whether the entry reads "not sent" where its outcome is: failed, with a detail its
    kind keeps for a call not made (`EntryKind.not_sent_details`); the outcome filter's
    NOT_SENT finds these (`outcome_shown`)."""
    return entry.outcome == Outcome.FAILED and entry.detail in kind_of(entry).not_sent_details


def step_choice(kind: EntryKind, step: str) -> str:
    """The outcome filter's value for a step a kind records (`outcome_shown`)."""
    return f"{kind.slug}.{step}"


def terms_searched_for(text: str) -> list[str]:
    """What a search matches exactly: the text, its digests, a phone number's digests.

    The text also with its letters composed and decomposed (NFC, NFD): "Żółć-1" copied from
    a PDF or a Mac may carry its accents as characters of their own, and was typed either
    way into the form the entry keeps. A number's digests are of every key it had, as an
    erasure finds its entries by (`number_digests_ever`).
    """
    terms = []
    for spelling in dict.fromkeys((text, *(unicodedata.normalize(form, text)
                                           for form in ("NFC", "NFD")))):
        terms += [spelling[:255], *digests_under_every_key(spelling)]
    if _SHA256.fullmatch(text):  # Windows' Get-FileHash and certutil print capitals
        terms.append(text.lower())
    try:
        terms += number_digests_ever(phone_key(normalise_phone(text)))
    except ValidationError:
        pass  # not a phone number: the other terms may still match
    return terms


def entry_for(*, viewer, pk: int) -> Entry:
    """The entry; raises Http404 if unknown, PermissionDenied if not the viewer's to open."""
    entry = get_object_or_404(Entry.objects.select_related("campaign", "related"),
                              pk=min(pk, MAX_ID))
    if not may_see_entry(viewer, entry):
        raise PermissionDenied
    return entry


def former_username(actor_id: int) -> str:
    """The name a (possibly deleted) user's entries carry, or "" if they have none."""
    return (Entry.objects.filter(actor_id=actor_id).order_by("-created_at")
            .values_list("actor_username", flat=True).first()) or ""


def entry_changes(entry: Entry) -> list[FieldChange]:
    """What the entry changed (or asked Thulium to change), field by field, old to new."""
    kind = kind_of(entry)
    before = (value_at(entry, kind.before) or {}) if kind.before else {}
    return field_changes(before, value_at(entry, kind.after) or {}, kind.field_label,
                         kind.value_label)


def _fetch(viewer, filters: TimelineFilters, cursor: Cursor | None, *, older: bool,
           size: int) -> list[TimelineRow]:
    """Up to a page plus one rows beyond the cursor."""
    order = ("-created_at", "-pk") if older else ("created_at", "pk")
    entries = entries_matching(filters)
    if cursor is not None:
        entries = entries.filter(_beyond(cursor, older=older))
    entries = entries.select_related("campaign").order_by(*order)[:size + 1]
    return [TimelineRow(entry, may_see_entry(viewer, entry)) for entry in entries]


def _beyond(cursor: Cursor, *, older: bool) -> Q:
    """Entries strictly older (or newer) than the cursor.

    Written as a bound on created_at plus a small exclusion, so the database can start its
    index scan at the cursor instead of filtering from the newest entry down.
    """
    at = cursor.created_at
    if older:
        return Q(created_at__lte=at) & ~Q(created_at=at, pk__gte=cursor.pk)
    return Q(created_at__gte=at) & ~Q(created_at=at, pk__lte=cursor.pk)
