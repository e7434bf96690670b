"""The filtered timeline as a download: CSV for spreadsheets, JSON Lines for programs.

Rows stream newest first from one database cursor per kind, merged as they arrive, so
memory stays flat however many rows match. Column names are the data's own identifiers,
the same in both formats, so that scripts can rely on them. JSON and times are read as
text (`audit.fastread`), and CSV cells take the JSON text as it is: decoding and encoding
again some two million values would halve the export's speed.
"""

import csv
import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction

from campaigns.models import Campaign
from portal.spreadsheets import FORMULA_STARTS, Echo, safe_cell

from .fastread import iso_dates, read_as_text
from .kinds import EntryKind
from .services import TimelineFilters, kind_query, selected_kinds, visible_filters

COMMON_COLUMNS = ("kind", "id", "created_at", "completed_at", "user", "user_id", "campaign",
                  "outcome", "http_status", "request_id", "messages", "detail", "sent")
# Read in the order of COMMON_COLUMNS from "id" on.
_COMMON_FIELDS = ("pk", "created_at", "completed_at", "actor_username", "actor_id",
                  "campaign_id", "outcome", "http_status", "request_id", "messages", "detail",
                  "sent")
_CAMPAIGN = COMMON_COLUMNS.index("campaign")
FETCH_ROWS = 2000  # rows per round trip of each database cursor
CHUNK_ROWS = 500  # rows per piece of the HTTP response


@dataclass(frozen=True)
class Export:
    columns: list[str]
    json_columns: frozenset[str]  # whose values are JSON text
    rows: Iterator[list]  # values in the order of the columns, newest entry first


def export_rows(*, viewer, filters: TimelineFilters) -> Export:
    """The visible entries matching the filters, streamed newest first."""
    filters = visible_filters(viewer=viewer, filters=filters)
    kinds = selected_kinds(filters)
    columns, json_columns = [*COMMON_COLUMNS], {"messages", "sent"}
    for kind in kinds:
        columns += [name for name in kind.export_fields if name not in columns]
        read = read_as_text(kind.model, kind.export_fields)
        json_columns |= {kind.export_fields[place] for place in read.json_places}
    return Export(columns, frozenset(json_columns), _merged_rows(kinds, filters, columns))


def csv_chunks(export: Export) -> Iterator[str]:
    """CSV text, a few hundred rows at a time, every cell made safe as by `safe_cell`."""
    writer = csv.writer(Echo())
    special = _special_cell(ZoneInfo(settings.TIME_ZONE))
    readable = _readable_json()
    # Only SQLite stores letters escaped (see _readable_json).
    json_places = ([export.columns.index(name) for name in export.json_columns]
                   if connection.vendor == "sqlite" else [])
    # The byte order mark makes spreadsheets read the file as UTF-8 (Polish names).
    chunk = ["\ufeff" + writer.writerow(export.columns)]
    for values in export.rows:
        for place in json_places:
            values[place] = readable(values[place])
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


def _merged_rows(kinds: list[EntryKind], filters: TimelineFilters,
                 columns: list[str]) -> Iterator[list]:
    campaigns = dict(Campaign.objects.values_list("pk", "thulium_id"))
    # In a transaction PostgreSQL streams the cursors; outside one it would first copy
    # every matching row aside (a cursor WITH HOLD).
    with transaction.atomic():
        iso_dates()
        streams = [_kind_rows(kind, filters, columns, campaigns) for kind in kinds]
        for _key, values in heapq.merge(*streams, key=itemgetter(0), reverse=True):
            yield values


def _kind_rows(kind: EntryKind, filters: TimelineFilters, columns: list[str],
               campaigns: dict) -> Iterator[tuple]:
    read = read_as_text(kind.model, (*_COMMON_FIELDS, *kind.export_fields))
    rows = (kind.model.objects.filter(kind_query(kind, filters))
            .order_by("-created_at", "-pk")
            .annotate(**read.annotations)
            .values_list(*read.names)
            .iterator(chunk_size=FETCH_ROWS))
    places = [columns.index(name) for name in kind.export_fields]
    blanks = [None] * (len(columns) - len(COMMON_COLUMNS))
    common = len(_COMMON_FIELDS)
    for row in rows:
        row = read.parse(list(row), json_too=False)
        values = [kind.slug, *row[:common], *blanks]
        values[_CAMPAIGN] = campaigns.get(row[5], "")
        for place, value in zip(places, row[common:], strict=True):
            values[place] = value
        yield (row[1], kind.slug, row[0]), values


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
