"""The campaign list: search, filters, Thulium's dialing order, paging and the stats bar.

Filters on the JSON `settings` are key lookups, which Django writes for SQLite and
PostgreSQL alike. The dialing order is sorted by the database, so that a page reads its 50
campaigns only: sorted in Python, every page of 5,000 campaigns read them all (about 150 ms
and 12 MB). A bare cast of `order` would fail the query on the first one Thulium sent as
unreadable text, so the values are read as numbers through `SettingNumber`.
"""

import logging
import math
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import F, FloatField, Func, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _

from portal.caching import cache_answer
from portal.thulium import ThuliumError, get_client

from .models import Campaign, Dialer, thulium_id_validator

log = logging.getLogger(__name__)
PAGE_SIZE = 50
STATS_CACHE_KEY = "thulium:campaign-stats"


class CampaignFilterForm(forms.Form):
    """The list's query string; a value it cannot read is left out, never an error page."""

    q = forms.CharField(label=_("Name or id"), required=False, max_length=255)
    active = forms.TypedChoiceField(
        label=_("Active"), required=False, coerce=lambda value: value == "yes",
        empty_value=None, choices=[("", _("any")), ("yes", _("yes")), ("no", _("no"))],
    )
    dialer = forms.ChoiceField(label=_("Dialer"), required=False,
                               choices=[("", _("any")), *Dialer.choices])
    kind = forms.ChoiceField(label=_("Kind"), required=False,
                             choices=[("", _("any")), *Campaign.Kind.choices])
    group = forms.IntegerField(label=_("Group id"), required=False, min_value=0,
                               max_value=2_147_483_647)

    def filters(self) -> dict:
        """The readable filters: the fields without an error."""
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items()
                if value not in (None, "")}


def campaigns_listed(filters: dict) -> QuerySet[Campaign]:
    """The campaigns matching `filters` (see CampaignFilterForm), in Thulium's dialing order,
    those no longer in Thulium after them: Thulium dials them no more."""
    # The list shows these; the rest (structure fields above all) is not read for nothing.
    query = Campaign.objects.order_by(*DIALING_ORDER).only(
        "thulium_id", "name", "kind", "settings", "in_thulium")
    if text := filters.get("q", "").strip():
        query = query.filter(Q(name__icontains=text) | Q(thulium_id__iexact=text))
    if "active" in filters:
        query = query.filter(settings__active=filters["active"])
    if "dialer" in filters:
        query = query.filter(settings__dialer=filters["dialer"])
    if "kind" in filters:
        query = query.filter(kind=filters["kind"])
    if "group" in filters:
        # Thulium gives ids as numbers or as text (thulium-api.md), kept as it gave them.
        group = filters["group"]
        query = query.filter(Q(settings__group_id=group) | Q(settings__group_id=str(group)))
    return query


class SettingNumber(Func):
    """A campaign setting as a number: a JSON number, or text holding one as Thulium may
    send it ("7"); NULL for anything else (true, "abc", a number too long to be a setting),
    where a cast would fail the query. Only for sorting: PostgreSQL gives a numeric."""

    output_field = FloatField()
    # Digits and an exponent bounded, so that PostgreSQL's numeric holds any that match.
    NUMBER_TEXT = r"^\s*[+-]?([0-9]{1,30}\.?[0-9]{0,30}|\.[0-9]{1,30})([eE][+-]?[0-9]{1,3})?\s*$"

    def __init__(self, key: str):
        super().__init__(F("settings"))
        self.key = key

    def as_sqlite(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        path = f"$.{self.key}"
        return (f"(CASE JSON_TYPE({column}, %s) WHEN 'integer' THEN JSON_EXTRACT({column}, %s) "
                f"WHEN 'real' THEN JSON_EXTRACT({column}, %s) WHEN 'text' THEN CASE WHEN "
                f"JSON_EXTRACT({column}, %s) REGEXP %s THEN CAST(JSON_EXTRACT({column}, %s) "
                "AS REAL) END END)",
                [*params, path, *params, path, *params, path, *params, path, self.NUMBER_TEXT,
                 *params, path])

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        key = self.key
        return (f"(CASE jsonb_typeof({column} -> %s) WHEN 'number' THEN ({column} -> %s)::numeric "
                f"WHEN 'string' THEN CASE WHEN {column} ->> %s ~ %s THEN "
                f"({column} ->> %s)::numeric END END)",
                [*params, key, *params, key, *params, key, self.NUMBER_TEXT, *params, key])


# Thulium dials the lowest `order` first; equal orders share calls by `parity`, so the
# larger share comes first. Campaigns with no readable order come last.
DIALING_ORDER = (
    F("in_thulium").desc(),
    SettingNumber("order").asc(nulls_last=True),
    Coalesce(SettingNumber("parity"), Value(0.0)).desc(),
    "name",
    "thulium_id",
)


def _number(value, default) -> float:
    if isinstance(value, bool):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def page_number(raw) -> int:
    """The asked page as a number; anything unreadable is the first page."""
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        return 1


def campaigns_page(campaigns: QuerySet[Campaign], raw_page):
    """One page of the list; a page past the end is the last one."""
    return Paginator(campaigns, PAGE_SIZE).get_page(page_number(raw_page))


@dataclass
class Selection:
    """The campaigns ticked on the list, carried from page to page in the query string."""

    ids: set
    elsewhere: list  # ticked on other pages: sent again as hidden fields


def selection_kept(query, page) -> Selection:
    """The selection of the query string (`campaign`, repeated), as the page shows it."""
    ids = {value for value in query.getlist("campaign") if _is_thulium_id(value)}
    shown = {campaign.thulium_id for campaign in page}
    return Selection(ids, sorted(ids - shown))


def campaign_in_query(query) -> Campaign | None:
    """The campaign a list is filtered to by `?campaign=` (its Thulium id), None without
    one; 404 for an id no campaign has, and unasked for one none could have (a NUL,
    which PostgreSQL refuses to compare)."""
    thulium_id = query.get("campaign")
    if not thulium_id:
        return None
    if not _is_thulium_id(thulium_id):
        raise Http404("No campaign has this Thulium id.")
    return get_object_or_404(Campaign, thulium_id=thulium_id)


def _is_thulium_id(value: str) -> bool:
    try:
        thulium_id_validator(value)
    except ValidationError:
        return False
    return True


def campaign_stats_of(page, *, language: str | None = None) -> ThuliumError | None:
    """Set `.stats` on the page's active campaigns (None where Thulium has none); returns
    why the stats could not be read, or None. No call at all when none is active."""
    active = [campaign for campaign in page if campaign.settings.get("active") is True]
    if not active:
        return None
    stats = campaign_stats(language=language)
    for campaign in active:
        campaign.stats = stats.by_id.get(campaign.thulium_id)
    return stats.error


@dataclass
class Stats:
    """GET outbounds/stats by campaign id, or why it could not be read."""

    by_id: dict
    error: ThuliumError | None = None


def campaign_stats(*, language: str | None = None) -> Stats:
    """The stats of active campaigns, cached for a few seconds (a failure too, so that a
    Thulium outage does not slow every list by its timeout), waited for THULIUM_VIEW_TIMEOUT."""
    stats = cache_answer(cache.get, STATS_CACHE_KEY)
    if stats is None:
        try:
            rows = get_client(language, timeout=settings.THULIUM_VIEW_TIMEOUT).campaign_stats()
        except ThuliumError as error:
            log.warning("campaign stats unavailable: %s", error)
            stats = Stats({}, error)
        else:
            stats = Stats({str(row.get("id")): _stat(row) for row in rows})
        cache_answer(cache.set, STATS_CACHE_KEY, stats, settings.CAMPAIGN_STATS_CACHE_SECONDS)
    return stats


def campaign_stats_forget() -> None:
    """Read Thulium's figures anew at the next page: the portal has just added records, and
    a count of before (cached for seconds) would say they are not there."""
    cache_answer(cache.delete, STATS_CACHE_KEY)


def _stat(row: dict) -> dict:
    """A stats row as a bar shows it (None where Thulium's value is unreadable); the
    percentage is text with a dot, as the bar's value attribute needs it in any language."""
    count = row.get("records_count")
    percent = _number(row.get("completion_percent"), None)
    return {
        "records_count": count if type(count) is int else None,
        "percent": None if percent is None else f"{min(100.0, max(0.0, percent)):.1f}",
    }
