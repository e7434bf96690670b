"""The filtered timeline as a download: CSV for spreadsheets, JSON Lines for programs.

Rows stream newest first from one database cursor per kind, merged as they arrive, so
memory stays flat however many rows match. Column names are the data's own identifiers,
the same in both formats, so that scripts can rely on them.
"""

import csv
import heapq
import json
from collections.abc import Iterator
from operator import itemgetter
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from campaigns.models import Campaign

from .kinds import EntryKind
from .services import TimelineFilters, kind_query, selected_kinds, visible_filters

COMMON_COLUMNS = ("kind", "id", "created_at", "completed_at", "user", "user_id", "campaign",
                  "outcome", "http_status", "request_id", "messages", "detail", "sent")
# Read in the order of COMMON_COLUMNS from "created_at" on, after the id.
_COMMON_FIELDS = ("pk", "created_at", "completed_at", "actor_username", "actor_id",
                  "campaign_id", "outcome", "http_status", "request_id", "messages", "detail",
                  "sent")
FETCH_ROWS = 2000  # rows per round trip of each database cursor
CHUNK_ROWS = 500  # rows per piece of the HTTP response
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection"):
# such cells get a leading apostrophe, which makes them text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_rows(*, viewer, filters: TimelineFilters) -> tuple[list[str], Iterator[list]]:
    """The columns, and the visible matching entries newest first as values in that order."""
    filters = visible_filters(viewer=viewer, filters=filters)
    kinds = selected_kinds(filters)
    columns = [*COMMON_COLUMNS]
    for kind in kinds:
        columns += [name for name in kind.export_fields if name not in columns]
    return columns, _merged_rows(kinds, filters, columns)


def csv_chunks(columns: list[str], rows: Iterator[list]) -> Iterator[str]:
    """CSV text, a few hundred rows at a time, formulas neutralised."""
    writer = csv.writer(_Echo())
    timezone = ZoneInfo(settings.TIME_ZONE)
    # The byte order mark makes spreadsheets read the file as UTF-8 (Polish names).
    chunk = ["\ufeff" + writer.writerow(columns)]
    for values in rows:
        chunk.append(writer.writerow([_cell(value, timezone) for value in values]))
        if len(chunk) >= CHUNK_ROWS:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)


def jsonl_chunks(columns: list[str], rows: Iterator[list]) -> Iterator[str]:
    """One JSON object per line, a few hundred lines at a time."""
    timezone = ZoneInfo(settings.TIME_ZONE)
    encoder = json.JSONEncoder(
        ensure_ascii=False, default=lambda value: value.astimezone(timezone).isoformat()
    )
    chunk = []
    for values in rows:
        chunk.append(encoder.encode(dict(zip(columns, values, strict=True))) + "\n")
        if len(chunk) >= CHUNK_ROWS:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)


def _merged_rows(kinds: list[EntryKind], filters: TimelineFilters,
                 columns: list[str]) -> Iterator[list]:
    campaigns = dict(Campaign.objects.values_list("pk", "thulium_id"))
    # In a transaction PostgreSQL streams the cursors; outside one it would first copy
    # every matching row aside (a cursor WITH HOLD).
    with transaction.atomic():
        streams = [_kind_rows(kind, filters, columns, campaigns) for kind in kinds]
        for _key, values in heapq.merge(*streams, key=itemgetter(0), reverse=True):
            yield values


def _kind_rows(kind: EntryKind, filters: TimelineFilters, columns: list[str],
               campaigns: dict) -> Iterator[tuple]:
    places = [columns.index(name) for name in kind.export_fields]
    blanks = [None] * (len(columns) - len(COMMON_COLUMNS))
    rows = (kind.model.objects.filter(kind_query(kind, filters))
            .order_by("-created_at", "-pk")
            .values_list(*_COMMON_FIELDS, *kind.export_fields)
            .iterator(chunk_size=FETCH_ROWS))
    common = len(_COMMON_FIELDS)
    for row in rows:
        pk, created_at = row[0], row[1]
        values = [kind.slug, *row[:common], *blanks]
        values[6] = campaigns.get(row[5], "")
        for place, value in zip(places, row[common:], strict=True):
            values[place] = value
        yield (created_at, kind.slug, pk), values


def _cell(value, timezone) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, dict | list):
        return _cell(json.dumps(value, ensure_ascii=False, sort_keys=True), timezone)
    if hasattr(value, "astimezone"):
        return value.astimezone(timezone).isoformat()
    return str(value)


class _Echo:
    """A file that hands back what is written, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value
