"""The filtered timeline as a download: CSV for spreadsheets, JSON Lines for programs.

Rows stream newest first from one database cursor over the entry table, so memory stays
flat however many rows match; each kind's own columns are read from its JSON by the
database. Column names are the data's own identifiers, the same in both formats, so that
scripts can rely on them. JSON and times are read as text (`audit.fastread`), and CSV
cells take the JSON text as it is: decoding and encoding again some two million values
would halve the export's speed.
"""

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Func, TextField
from django.db.models.functions import Coalesce

from portal.spreadsheets import FORMULA_STARTS, Echo, safe_cell

from .fastread import iso_dates, read_as_text
from .kinds import all_kinds
from .models import Entry
from .services import TimelineFilters, entries_matching, may_see_everyone

COMMON_COLUMNS = ("kind", "id", "created_at", "completed_at", "user", "user_id", "campaign",
                  "outcome", "http_status", "request_id", "messages", "detail", "reason",
                  "sent", "details", "results", "related_id", "personal_data_erased_at")
# Read in the order of COMMON_COLUMNS.
_COMMON_FIELDS = ("kind", "pk", "created_at", "completed_at", "actor_username", "actor_id",
                  "campaign_id", "outcome", "http_status", "request_id", "messages", "detail",
                  "reason", "sent", "details", "results", "related_id", "erased_at")
_CAMPAIGN = COMMON_COLUMNS.index("campaign")
FETCH_ROWS = 2000  # rows per round trip of each database cursor
CHUNK_ROWS = 500  # rows per piece of the HTTP response


@dataclass(frozen=True)
class Export:
    columns: list[str]
    json_columns: frozenset[str]  # whose values are JSON text
    rows: Iterator[list]  # values in the order of the columns, newest entry first


def export_rows(*, viewer, filters: TimelineFilters) -> Export:
    """The viewer's entries matching the filters, streamed newest first.

    Someone without the audit permission sees only the kind, time and outcome of others'
    entries, which is no export: theirs holds their own entries.
    """
    if not may_see_everyone(viewer):
        filters = replace(filters, actor_id=viewer.pk)
    kinds = [kind for kind in all_kinds() if not filters.kind or kind.slug == filters.kind]
    places = {}
    for kind in kinds:
        for column, place in kind.export_columns:
            places.setdefault(column, set()).add(place)
    columns = [*COMMON_COLUMNS, *places]
    return Export(columns, frozenset({"messages", "sent", "details", "results", *places}),
                  _rows(filters, places))


def csv_chunks(export: Export) -> Iterator[str]:
    """CSV text, a few hundred rows at a time, every cell made safe as by `safe_cell`."""
    writer = csv.writer(Echo())
    special = _special_cell(ZoneInfo(settings.TIME_ZONE))
    readable = _readable_json()
    # Only SQLite stores letters escaped (see _readable_json).
    json_places = ([export.columns.index(name) for name in export.json_columns]
                   if connection.vendor == "sqlite" else [])
    # A kind's own column holds JSON text: a string is written as the text it holds.
    string_places = [place for place, name in enumerate(export.columns)
                     if name not in COMMON_COLUMNS]
    # The byte order mark makes spreadsheets read the file as UTF-8 (Polish names).
    chunk = ["\ufeff" + writer.writerow(export.columns)]
    for values in export.rows:
        for place in json_places:
            values[place] = readable(values[place])
        for place in string_places:
            if values[place] and values[place].startswith('"'):
                values[place] = json.loads(values[place])
        # Plain text and empty cells, most of them, are written without a function call:
        # a million rows have some twenty million cells. The rest go through safe_cell.
        chunk.append(writer.writerow([
            value if type(value) is str and not value.startswith(FORMULA_STARTS)
            else "" if value is None
            else special(value)
            for value in values
        ]))
        if len(chunk) >= CHUNK_ROWS:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)


def jsonl_chunks(export: Export) -> Iterator[str]:
    """One JSON object per line, a few hundred lines at a time."""
    timezone = ZoneInfo(settings.TIME_ZONE)
    encoder = json.JSONEncoder(
        ensure_ascii=False, default=lambda value: value.astimezone(timezone).isoformat()
    )
    json_places = [export.columns.index(name) for name in export.json_columns]
    chunk = []
    for values in export.rows:
        for place in json_places:
            if values[place] is not None:
                values[place] = json.loads(values[place])
        chunk.append(encoder.encode(dict(zip(export.columns, values, strict=True))) + "\n")
        if len(chunk) >= CHUNK_ROWS:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)


def _rows(filters: TimelineFilters, places: dict[str, set[str]]) -> Iterator[list]:
    campaigns = dict(Entry._meta.get_field("campaign").related_model.objects
                     .values_list("pk", "thulium_id"))
    read = read_as_text(Entry, _COMMON_FIELDS)
    extra = {f"column_{index}": _value_at(sorted(found))
             for index, found in enumerate(places.values())}
    # In a transaction PostgreSQL streams the cursor; outside one it would first copy
    # every matching row aside (a cursor WITH HOLD).
    with transaction.atomic():
        iso_dates()
        rows = (entries_matching(filters).order_by("-created_at", "-pk")
                .annotate(**read.annotations, **extra)
                .values_list(*read.names, *extra)
                .iterator(chunk_size=FETCH_ROWS))
        for row in rows:
            values = read.parse(list(row), json_too=False)
            values[_CAMPAIGN] = campaigns.get(values[_CAMPAIGN], "")
            yield values


def _value_at(places: list[str]):
    """An expression reading a kind's column, as JSON text, from the JSON it lies in ("results.
    record_id"); a column some kinds fill from different places takes whichever is there."""
    expressions = [_JsonText(*place.split(".")) for place in places]
    return expressions[0] if len(expressions) == 1 else Coalesce(*expressions)


class _JsonText(Func):
    """A key of a JSON column as JSON text, alike on both databases and with no converter
    to run per value (Django's KeyTransform decodes each one)."""

    output_field = TextField()

    def __init__(self, column: str, key: str):
        super().__init__(F(column))
        self.key = key

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} -> %s)", [*params, f"$.{self.key}"]

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} -> %s)::text", [*params, self.key]


def _readable_json():
    """JSON text with letters as letters: SQLite keeps "ś" as "\\u015b", PostgreSQL does not."""
    encode = json.JSONEncoder(ensure_ascii=False).encode

    def readable(text):
        return encode(json.loads(text)) if text and "\\u" in text else text

    return readable


def _special_cell(timezone):
    """A function writing any value but plain text as a safe cell, chosen by its type."""
    by_type = {
        int: str,
        datetime: lambda value: value.astimezone(timezone).isoformat(),
    }

    def cell(value) -> str:
        return by_type.get(type(value), safe_cell)(value)

    return cell
