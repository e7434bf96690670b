"""The filtered timeline as a download: CSV for spreadsheets, JSON Lines for programs.

Rows stream newest first from one database cursor over the entry table, so memory stays
flat however many rows match. Column names are the data's own identifiers, the same in
both formats, so that scripts can rely on them; a kind's own columns are read from the
JSON they lie in. The CSV lines are written by the database itself (`_csv_cells`): a
million entries have some thirty million cells, too many to pass one by one through
Python. JSON Lines decode and encode each entry, for programs that want typed values.
"""

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Func, TextField, When
from django.db.models.expressions import RawSQL

from portal.spreadsheets import FORMULA_STARTS, Echo

from .fastread import iso_dates, moment, read_as_text
from .kinds import all_kinds
from .models import Entry
from .services import TimelineFilters, entries_matching, may_see_everyone

COMMON_COLUMNS = ("kind", "id", "created_at", "completed_at", "personal_data_erased_at", "user",
                  "user_id", "campaign", "outcome", "http_status", "request_id", "messages",
                  "detail", "reason", "sent", "details", "results", "related_id")
# Read in the order of COMMON_COLUMNS.
_COMMON_FIELDS = ("kind", "pk", "created_at", "completed_at", "erased_at", "actor_username",
                  "actor_id", "campaign_id", "outcome", "http_status", "request_id", "messages",
                  "detail", "reason", "sent", "details", "results", "related_id")
_TIMES = ("created_at", "completed_at", "erased_at")
_JSON_FIELDS = frozenset({"messages", "sent", "details", "results"})
_CAMPAIGN = COMMON_COLUMNS.index("campaign")
FETCH_ROWS = 2000  # rows per round trip of the database cursor
CHUNK_ROWS = 500  # rows per piece of the HTTP response


@dataclass(frozen=True)
class Export:
    columns: list[str]
    filters: TimelineFilters
    # A kind's own column -> (kind, place) for each kind that has it, e.g. ("import",
    # "results.added"): the value is read only from entries of those kinds.
    places: dict[str, list[tuple[str, str]]]


def export_rows(*, viewer, filters: TimelineFilters) -> Export:
    """The viewer's entries matching the filters, to be streamed newest first.

    Someone without the audit permission sees only the kind, time and outcome of others'
    entries, which is no export: theirs holds their own entries.
    """
    if not may_see_everyone(viewer):
        filters = replace(filters, actor_id=viewer.pk)
    places = {}
    for kind in all_kinds():
        if filters.kind and kind.slug != filters.kind:
            continue
        for column, place in kind.export_columns:
            places.setdefault(column, []).append((kind.slug, place))
    return Export([*COMMON_COLUMNS, *places], filters, places)


def csv_chunks(export: Export) -> Iterator[str]:
    """CSV text, a few hundred lines at a time, every cell made safe as by `safe_cell`.

    SQLite knows no time zones, so there the times are written here, in the portal's.
    """
    postgres = connection.vendor == "postgresql"
    timezone = ZoneInfo(settings.TIME_ZONE)

    def local(text):
        return "" if text is None else moment(text).astimezone(timezone).isoformat()

    # The byte order mark makes spreadsheets read the file as UTF-8 (Polish names).
    chunk = ["\ufeff" + csv.writer(Echo()).writerow(export.columns)]
    with transaction.atomic():  # PostgreSQL streams a cursor only inside a transaction
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('TimeZone', %s, true)", [settings.TIME_ZONE])
        rows = (entries_matching(export.filters).order_by("-created_at", "-pk")
                .annotate(**_csv_cells(export.places, postgres=postgres))
                .values_list("head", *(f"{name}_cell" for name in _TIMES), "rest")
                .iterator(chunk_size=FETCH_ROWS))
        for head, created, completed, erased, rest in rows:
            if postgres:
                chunk.append(f"{head},{created},{completed or ''},{erased or ''},{rest}\r\n")
            else:
                chunk.append(f"{head},{local(created)},{local(completed)},{local(erased)},"
                             f"{rest}\r\n")
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
    json_places = [place for place, name in enumerate(export.columns)
                   if name in _JSON_FIELDS or name not in COMMON_COLUMNS]
    chunk = []
    for values in _rows(export):
        for place in json_places:
            if values[place] is not None:
                values[place] = json.loads(values[place])
        chunk.append(encoder.encode(dict(zip(export.columns, values, strict=True))) + "\n")
        if len(chunk) >= CHUNK_ROWS:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)


def _rows(export: Export) -> Iterator[list]:
    """Each entry's values in the order of the columns, JSON as text."""
    campaigns = dict(Entry._meta.get_field("campaign").related_model.objects
                     .values_list("pk", "thulium_id"))
    read = read_as_text(Entry, _COMMON_FIELDS)
    extra = {f"column_{index}": _json_at(found)
             for index, found in enumerate(export.places.values())}
    with transaction.atomic():  # PostgreSQL streams a cursor only inside a transaction
        iso_dates()
        rows = (entries_matching(export.filters).order_by("-created_at", "-pk")
                .annotate(**read.annotations, **extra)
                .values_list(*read.names, *extra)
                .iterator(chunk_size=FETCH_ROWS))
        for row in rows:
            values = read.parse(list(row), json_too=False)
            values[_CAMPAIGN] = campaigns.get(values[_CAMPAIGN], "")
            yield values


def _json_at(places: list[tuple[str, str]]):
    """A kind's column as JSON text, from the place its entry's kind keeps it in."""
    return Case(*(When(kind=kind, then=_JsonText(*place.split("."))) for kind, place in places),
                output_field=TextField())


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


def _csv_cells(places: dict[str, list[tuple[str, str]]], *, postgres: bool) -> dict:
    """SQL writing a CSV line's cells: `head` (kind and id), the three times (on PostgreSQL
    as cells, on SQLite as stored) and `rest`, every other cell, joined. A kind's own cells
    are read only from entries of a kind that has them: reading JSON costs."""
    table = Entry._meta.db_table
    campaigns = Entry._meta.get_field("campaign").related_model._meta.db_table

    def column(name: str) -> str:
        return f'"{table}"."{Entry._meta.get_field(name).column}"'

    def text(name: str) -> str:
        return f"CAST({column(name)} AS TEXT)"

    def at(place: str) -> str:
        name, key = place.split(".")
        if postgres:
            return f"({column(name)} ->> '{key}')"
        return f"CAST(json_extract({column(name)}, '$.{key}') AS TEXT)"

    kinds = {kind for found in places.values() for kind, _place in found}
    own = {kind: " || ',' || ".join(
        next((_cell(at(place), postgres) for of, place in found if of == kind), "''")
        for found in places.values()) for kind in sorted(kinds)}
    blank = "'" + "," * (len(places) - 1) + "'"

    # Cells a person or Thulium wrote are made safe; ids, slugs and JSON (which starts with
    # a bracket) cannot read as a formula.
    rest = [
        _cell(column("actor_username"), postgres), _plain(text("actor")),
        # A Thulium campaign id is five letters or digits.
        _plain(f'(SELECT "thulium_id" FROM "{campaigns}" WHERE "id" = {column("campaign")})'),
        _plain(column("outcome")), _plain(text("http_status")),
        _cell(column("request_id"), postgres), _quoted(text("messages")),
        _cell(column("detail"), postgres), _cell(column("reason"), postgres),
        _quoted(text("sent")), _quoted(text("details")), _quoted(text("results")),
        _plain(text("related")),
        *([f"CASE {column('kind')} "
           + " ".join(f"WHEN '{kind}' THEN {cells}" for kind, cells in own.items())
           + f" ELSE {blank} END"] if places else []),
    ]
    cells = {
        "head": f"{_plain(column('kind'))} || ',' || {text('id')}",
        "rest": " || ',' || ".join(rest),
    }
    for name in _TIMES:
        cells[f"{name}_cell"] = _moment_cell(column(name)) if postgres else text(name)
    return {name: RawSQL(sql, [], output_field=TextField()) for name, sql in cells.items()}


def _cell(sql: str, postgres: bool) -> str:
    """SQL making a text a CSV cell: a would-be formula made text as `safe_cell` does,
    quoted, and NULL an empty cell."""
    code = "chr" if postgres else "char"
    starts = ", ".join(f"'{start}'" if start.isprintable() else f"{code}({ord(start)})"
                       for start in FORMULA_STARTS)
    quote = "''''"
    return _quoted(f"CASE WHEN substr({sql}, 1, 1) IN ({starts}) THEN {quote} || {sql} "
                   f"ELSE {sql} END")


def _quoted(sql: str) -> str:
    """SQL making a text a quoted CSV cell, NULL an empty one."""
    return f"""COALESCE('"' || replace({sql}, '"', '""') || '"', '')"""


def _plain(sql: str) -> str:
    """SQL making a text that holds no comma, quote or line break a cell as it is."""
    return f"COALESCE({sql}, '')"


def _moment_cell(sql: str) -> str:
    """SQL writing a PostgreSQL time in ISO 8601 in the session's zone, with microseconds
    only when there are some, as Python's isoformat() writes it."""
    return (f"""to_char({sql}, 'YYYY-MM-DD"T"HH24:MI:SS') || CASE WHEN """
            f"mod(EXTRACT(MICROSECONDS FROM {sql})::bigint, 1000000) <> 0 THEN "
            f"to_char({sql}, '.US') ELSE '' END || to_char({sql}, 'TZH:TZM')")
