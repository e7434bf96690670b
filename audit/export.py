"""The filtered timeline as a download: CSV for spreadsheets, JSON Lines for programs.

Rows stream newest first from one database cursor over the entry table, so memory stays
flat however many rows match. Column names are the data's own identifiers, the same in
both formats, so that scripts can rely on them; a kind's own columns are read from the
JSON they lie in. Beside the kind (its slug), `action` says it in the words of the one who
exports, as their timeline does, for the auditor reading the file. The CSV cells are
written by the database itself (`_cells`): a million entries have some thirty million
cells, too many to pass one by one through Python.
JSON Lines decode and encode each entry, for programs that want typed values.
"""

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Case, F, Func, TextField, Value, When
from django.db.models.expressions import RawSQL

from portal.spreadsheets import FORMULA_AFTER_A_BREAK, FORMULA_STARTS, Echo, safe_cell

from .fastread import local_times, long_read, read_as_text
from .kinds import all_kinds
from .models import Entry
from .services import TimelineFilters, entries_matching, may_see_everyone

COMMON_COLUMNS = ("kind", "action", "id", "created_at", "completed_at", "personal_data_erased_at",
                  "user", "user_id", "campaign", "outcome", "http_status", "request_id", "messages",
                  "detail", "reason", "sent", "details", "results", "related_id")
# Read in the order of COMMON_COLUMNS, but for the action, which the kind's label gives.
_COMMON_FIELDS = ("kind", "pk", "created_at", "completed_at", "erased_at", "actor_username",
                  "actor_id", "campaign_id", "outcome", "http_status", "request_id", "messages",
                  "detail", "reason", "sent", "details", "results", "related_id")
_TIMES = ("created_at", "completed_at", "erased_at")
_JSON_FIELDS = frozenset({"messages", "sent", "details", "results"})
_ACTION, _CAMPAIGN = COMMON_COLUMNS.index("action"), COMMON_COLUMNS.index("campaign")
FETCH_ROWS = 2000  # rows per round trip of the database cursor
CHUNK_ROWS = 500  # rows per piece of the HTTP response
COPY_BYTES = 65536  # bytes per piece of the HTTP response from PostgreSQL's COPY
# Between cells: Polish Excel, opening the file, splits cells at its list separator, as
# for the portal's other CSV files (portal.spreadsheets.csv_lines).
DELIMITER = ";"


@dataclass(frozen=True)
class Export:
    columns: list[str]
    filters: TimelineFilters
    # A kind's own column -> (kind, place) for each kind that has it, e.g. ("import",
    # "results.added"): the value is read only from entries of those kinds.
    places: dict[str, list[tuple[str, str]]]
    # Each kind's label in the exporter's language, read while their request is answered
    # (the file streams after it). A kind no app registers any more is its bare slug.
    actions: dict[str, str]


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
    actions = {kind.slug: str(kind.label) for kind in all_kinds()}
    return Export([*COMMON_COLUMNS, *places], filters, places, actions)


def csv_chunks(export: Export) -> Iterator[str | bytes]:
    """CSV text, a few hundred lines at a time, every cell made safe as by `safe_cell`.

    The database writes the cells (`_cells`): PostgreSQL the whole file, through COPY,
    whose UTF-8 is handed on as it comes; SQLite each line, but for the times, since it
    knows no time zones.
    """
    # The byte order mark makes spreadsheets read the file as UTF-8 (Polish names).
    header = "\ufeff" + csv.writer(Echo(), delimiter=DELIMITER,
                                    lineterminator="\n").writerow(export.columns)
    if connection.vendor == "postgresql":
        yield header
        yield from _copied(export)
        return
    connection.ensure_connection()  # its `safe_cell`, for `_safe`
    connection.connection.create_function("safe_cell", 1, safe_cell, deterministic=True)
    local = local_times(ZoneInfo(settings.TIME_ZONE))
    # The campaign's Thulium id is looked up here: a lookup per row costs SQLite more.
    campaigns = {str(pk): thulium_id for pk, thulium_id in Entry._meta.get_field("campaign")
                 .related_model.objects.values_list("pk", "thulium_id")}
    # The action too, by its kind: each label a cell already, written once.
    one_cell = csv.writer(Echo(), delimiter=DELIMITER, lineterminator="")
    actions = {slug: one_cell.writerow([safe_cell(label)])
               for slug, label in export.actions.items()}
    cells = _cells(export.places, export.actions, postgres=False)
    times, campaign = cells[3:6], cells[8]
    lines = {"kind_text": cells[0][0], "id_text": cells[2][0],
             **{f"{name}_text": sql for name, (sql, _how) in zip(_TIMES, times, strict=True)},
             "who": _line_part(cells[6:8]), "campaign_text": campaign[0],
             "rest": _line_part(cells[9:])}
    chunk = [header]
    with long_read():  # one snapshot for the whole file
        rows = (entries_matching(export.filters).order_by("-created_at", "-pk")
                .annotate(**{name: RawSQL(sql, [], output_field=TextField())
                             for name, sql in lines.items()})
                .values_list(*lines).iterator(chunk_size=FETCH_ROWS))
        for kind, pk, created, completed, erased, who, campaign_id, rest in rows:
            chunk.append(DELIMITER.join((kind, actions.get(kind, kind), pk, local(created),
                                         local(completed), local(erased), who,
                                         campaigns.get(campaign_id, ""), rest)) + "\n")
            if len(chunk) >= CHUNK_ROWS:
                yield "".join(chunk)
                chunk = []
    yield "".join(chunk)


def _copied(export: Export) -> Iterator[bytes]:
    """The lines as PostgreSQL's COPY writes them, quoting a cell only where it must.

    COPY sends each line as a message of its own: they are handed on some 64 kB at a
    time, as a line each would cost more than the database's work on it, and as bytes:
    the connection's encoding is the response's (UTF-8), and decoding them only for the
    response to encode them again took a fifth of the web process's time. (PostgreSQL runs
    the query with its parallel workers already, AUDIT_EXPORT_DATABASE_WORKERS of them: a
    million entries came no faster with the rows cut in two, each half copied over a
    connection of its own.)
    """
    def cell(sql, how):
        if not isinstance(sql, str):
            return sql
        return RawSQL(_safe(sql, postgres=True) if how == SAFE else sql, [],
                      output_field=TextField())

    cells = _cells(export.places, export.actions, postgres=True)
    query = (entries_matching(export.filters).order_by("-created_at", "-pk")
             .annotate(**{f"cell_{index}": cell(*found) for index, found in enumerate(cells)})
             .values_list(*(f"cell_{index}" for index in range(len(cells)))).query)
    sql, params = query.sql_with_params()
    with long_read(), connection.cursor() as cursor:
        statement = cursor.cursor.mogrify(sql, params)
        # The times in the portal's zone; only for the COPY, as Django reads those of its
        # own queries as UTC, and the caller's transaction may go on. As many helpers
        # reading the log as settings allow: on two CPUs shared with the web process, the
        # server's default of two made the export a quarter slower than one. No JIT
        # compiling of the cells' expressions: it took a second of CPU (half a second in
        # each process) and won less than that back over a million rows.
        cursor.execute("SELECT set_config('TimeZone', %s, true), "
                       "set_config('max_parallel_workers_per_gather', %s, true), "
                       "set_config('jit', 'off', true)",
                       [settings.TIME_ZONE, str(settings.AUDIT_EXPORT_DATABASE_WORKERS)])
        copying = f"COPY ({statement}) TO STDOUT WITH (FORMAT csv, DELIMITER '{DELIMITER}')"
        with cursor.cursor.copy(copying) as copy:
            blocks, size = [], 0
            for block in copy:
                blocks.append(block)
                size += len(block)
                if size >= COPY_BYTES:
                    yield b"".join(blocks)
                    blocks, size = [], 0
            yield b"".join(blocks)
        cursor.execute("SELECT set_config('TimeZone', %s, true)", [connection.timezone_name])


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
    with long_read():
        rows = (entries_matching(export.filters).order_by("-created_at", "-pk")
                .annotate(**read.annotations, **extra)
                .values_list(*read.names, *extra)
                .iterator(chunk_size=FETCH_ROWS))
        for row in rows:
            values = read.parse(list(row), json_too=False)
            values.insert(_ACTION, export.actions.get(values[0], values[0]))
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


# How a column's text becomes a cell: made safe (a person or Thulium wrote it, or JSON
# holding what they wrote), quoted (made safe already: a kind's own cells in SQLite's line),
# or plain (ids, slugs, numbers, times).
SAFE, QUOTED, PLAIN = "safe", "quoted", "plain"
LINE = "line"  # cells SQLite's line already holds, joined
# SQLite: a comma or line break, then somewhere a would-be formula's first character ("-"
# last, not a range).
_BREAK_THEN_FORMULA = "*[,\n\r]*[=+@\t\r-]*"


def _cells(places: dict[str, list[tuple[str, str]]], actions: dict[str, str], *,
           postgres: bool) -> list:
    """(SQL text, how it becomes a cell) of each column, in the order of the columns; the
    times are written in the portal's zone on PostgreSQL, left as stored on SQLite. A kind's
    own cells are read only from entries of a kind that has them: reading JSON costs. The
    action is the kind's label, for PostgreSQL (SQLite's line has it from Python)."""
    table = Entry._meta.db_table

    def column(name: str) -> str:
        return f'"{table}"."{Entry._meta.get_field(name).column}"'

    def text(name: str) -> str:
        return f"CAST({column(name)} AS TEXT)"

    def value(place: str) -> str:
        name, key = place.split(".")
        if postgres:
            return _safe(f"({column(name)} ->> '{key}')", postgres)
        # SQLite hands JSON's true and false back as 1 and 0; PostgreSQL writes them.
        path = f"{column(name)}, '$.{key}'"
        return _safe(f"CASE json_type({path}) WHEN 'true' THEN 'true' WHEN 'false' THEN "
                     f"'false' ELSE CAST(json_extract({path}) AS TEXT) END", postgres)

    def own(found: list[tuple[str, str]]) -> str:
        whens = " ".join(f"WHEN '{kind}' THEN {value(place)}" for kind, place in found)
        return f"CASE {column('kind')} {whens} END"

    def own_line() -> str:
        # SQLite: one CASE writing all of an entry's own cells, not one CASE a column; the
        # delimiters between a kind's empty cells are one literal.
        kinds = sorted({kind for found in places.values() for kind, _place in found})
        whens = " ".join(f"WHEN '{kind}' THEN " + _line_part([
            next(((value(place), QUOTED) for of, place in found if of == kind), None)
            for found in places.values()], extracted=True) for kind in kinds)
        return f"CASE {column('kind')} {whens} ELSE '{DELIMITER * (len(places) - 1)}' END"

    action = Case(*(When(kind=slug, then=Value(safe_cell(label)))
                    for slug, label in actions.items()), default=F("kind"),
                  output_field=TextField())
    return [
        (column("kind"), PLAIN), (action, PLAIN), (text("id"), PLAIN),
        *((_moment(column(name)) if postgres else text(name), PLAIN) for name in _TIMES),
        (column("actor_username"), SAFE), (text("actor"), PLAIN),
        # A Thulium campaign id is five letters or digits. PostgreSQL joins the campaigns
        # (and remembers each one's); SQLite gives the campaign's own id, looked up later.
        (F("campaign__thulium_id") if postgres else text("campaign"), PLAIN),
        (column("outcome"), PLAIN), (text("http_status"), PLAIN),
        (column("request_id"), SAFE), (text("messages"), SAFE), (column("detail"), SAFE),
        (column("reason"), SAFE), (text("sent"), SAFE), (text("details"), SAFE),
        (text("results"), SAFE), (text("related"), PLAIN),
        *(((own(found), QUOTED) for found in places.values()) if postgres
          else [(own_line(), LINE)] if places else []),
    ]


def _safe(sql: str, postgres: bool) -> str:
    """SQL making a would-be formula plain text, as `safe_cell` does. PostgreSQL compares
    the first letter's code: ascii() reads it in place where substr() copies it out, and
    the whole export ran some tenth faster. SQLite, which has no regexp_replace(), hands
    `safe_cell` (registered by `csv_chunks`) only a cell with a comma or line break
    somewhere before a would-be formula's first character."""
    if postgres:
        codes = ", ".join(str(ord(start)) for start in FORMULA_STARTS)
        breaks = f"regexp_replace({sql}, '{FORMULA_AFTER_A_BREAK}', '\\1''', 'g')"
        return f"CASE WHEN ascii({sql}) IN ({codes}) THEN '''' || {breaks} ELSE {breaks} END"
    starts = ", ".join(f"'{start}'" if start.isprintable() else f"char({ord(start)})"
                       for start in FORMULA_STARTS)
    return (f"CASE WHEN {sql} GLOB '{_BREAK_THEN_FORMULA}' THEN safe_cell({sql}) "
            f"WHEN substr({sql}, 1, 1) IN ({starts}) THEN '''' || {sql} ELSE {sql} END")


def _line_part(cells: list[tuple[str, str] | None], *, extracted: bool = False) -> str:
    """SQL writing cells, (SQL, how) or None for an empty one, as a part of a line: one
    printf, which writes NULL as an empty cell and costs SQLite a third less than ||."""
    texts = [_cell_text(*cell, extracted=extracted) for cell in cells if cell]
    # "%%": the query's text goes through the driver's parameter style, which takes "%s".
    layout = DELIMITER.join("%%s" if cell else "" for cell in cells)
    return f"printf('{layout}', {', '.join(texts)})" if texts else f"'{layout}'"


def _cell_text(sql: str, how: str, *, extracted: bool = False) -> str:
    """SQL making a column's text a cell of a line SQLite writes (NULL for an empty one).

    Most entries leave the reason, Thulium's request id and answer empty, and their JSON
    holds nothing: those cells are written as they are, with no test or quoting to run. Not
    so for a value `extracted` from JSON, which each mention of it would extract again.
    """
    if how in (PLAIN, LINE):
        return sql
    safe = _safe(sql, postgres=False) if how == SAFE else sql
    quoted = f"""'"' || replace({safe}, '"', '""') || '"'"""
    if extracted:
        return quoted
    return f"CASE {sql} WHEN '' THEN '' WHEN '{{}}' THEN '{{}}' WHEN '[]' THEN '[]' " \
           f"ELSE {quoted} END"


def _moment(sql: str) -> str:
    """SQL writing a PostgreSQL time in ISO 8601 in the session's zone, with microseconds
    only when there are some, as Python's isoformat() writes it."""
    return f"""replace(to_char({sql}, 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'), '.000000', '')"""
