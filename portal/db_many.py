"""Writing many rows of a table in one statement, for the hot paths of a bulk import.

On PostgreSQL, a statement run once per row (executemany) costs the server a parse, a plan
and an executor start per row, and Django's cursor quotes every value into the SQL text
in Python. The rows go instead as one JSON document, a list of lists made by orjson (a
tenth of the standard encoder's time, which a tenth of an import's busiest thread went
to), and are read back typed as their columns: a batch of hundreds is one statement
with one parameter. SQLite runs in process, where a prepared statement run per row is
what is fast, so it keeps executemany, in one transaction: a call's rows are written all or
none, as one statement writes them on PostgreSQL (in autocommit, two syncs inserting the
same new campaigns took turns row by row, each counting some as its own).

Values are the models' Python values, columns attribute names (`campaign_id`, not
`campaign`). These bypass the models' guards, such as the audit log's refusal of updates:
only the module that owns a table calls them for it. Each statement's text is made once
per shape: every audited action writes a few, and making one took up to a tenth of a
millisecond.
"""

import datetime
import json
from collections.abc import Sequence
from functools import cache

import orjson
import psycopg
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper


def update_each(model, *, keys: Sequence[str], columns: Sequence[str], rows: Sequence[Sequence],
                where: str = "", where_params: Sequence = ()) -> int:
    """UPDATE each row matched by its key values; returns how many rows were changed.

    Each row gives `columns`' new values, then `keys`' values. `where` is SQL on the
    table's own columns (unqualified), ANDed to each row's match.
    """
    if not rows:
        return 0
    names = (*columns, *keys)
    sql = _update_sql(model, tuple(keys), tuple(columns), where, connection.vendor)
    if connection.vendor != "postgresql":
        fields = _fields(model, names)
        with transaction.atomic(savepoint=False), connection.cursor() as cursor:
            cursor.executemany(sql, [[*_prepared(fields, row), *where_params] for row in rows])
            return cursor.rowcount
    with bound_cursor() as cursor:
        cursor.execute(sql, [_encode(rows), *where_params])
        return cursor.rowcount


def insert_each(model, *, columns: Sequence[str], rows: Sequence[Sequence],
                returning: Sequence[str] = (), unique: Sequence[str] = (),
                update: Sequence[str] = ()) -> list[tuple]:
    """INSERT the rows; returns the `returning` columns' values of the rows written, in no
    promised order (match them on a unique column).

    A row that would repeat the `unique` columns of a row already there updates that
    row's `update` columns instead, or, with none given, is not written (nor returned).
    """
    if not rows:
        return []
    sql = _insert_sql(model, tuple(columns), tuple(returning), tuple(unique), tuple(update),
                      connection.vendor)
    if connection.vendor != "postgresql":
        fields = _fields(model, tuple(columns))
        prepared = [_prepared(fields, row) for row in rows]
        with transaction.atomic(savepoint=False), connection.cursor() as cursor:
            if not returning:
                cursor.executemany(sql, prepared)
                return []
            written = []
            for row in prepared:  # executemany keeps the RETURNING row of the last only
                cursor.execute(sql, row)
                if (back := cursor.fetchone()) is not None:
                    written.append(back)
            return written
    with bound_cursor() as cursor:
        cursor.execute(sql, [_encode(rows)])
        return cursor.fetchall() if returning else []


@cache
def _update_sql(model, keys: tuple[str, ...], columns: tuple[str, ...], where: str,
                vendor: str) -> str:
    table = _quote(model._meta.db_table)
    also = f" AND ({where})" if where else ""
    if vendor != "postgresql":
        assign = ", ".join(f"{_column(model, name)} = %s" for name in columns)
        match = " AND ".join(f"{_column(model, name)} = %s" for name in keys)
        return f"UPDATE {table} SET {assign} WHERE {match}{also}"
    names = (*columns, *keys)
    given = {name: f"given_{index}" for index, name in enumerate(names)}
    assign = ", ".join(f"{_column(model, name)} = given.{given[name]}" for name in columns)
    match = " AND ".join(f"{table}.{_column(model, name)} = given.{given[name]}"
                         for name in keys)
    return (f"UPDATE {table} SET {assign} FROM ({_select(model, names)}) AS given "
            f"WHERE {match}{also}")


@cache
def _insert_sql(model, columns: tuple[str, ...], returning: tuple[str, ...],
                unique: tuple[str, ...], update: tuple[str, ...], vendor: str) -> str:
    table = _quote(model._meta.db_table)
    names = ", ".join(_column(model, name) for name in columns)
    back = (f" RETURNING {', '.join(_column(model, name) for name in returning)}"
            if returning else "")
    if unique:
        changes = ", ".join(f"{_column(model, name)} = EXCLUDED.{_column(model, name)}"
                            for name in update)
        back = (f" ON CONFLICT ({', '.join(_column(model, name) for name in unique)}) "
                f"{f'DO UPDATE SET {changes}' if update else 'DO NOTHING'}{back}")
    if vendor != "postgresql":
        return f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))}){back}"
    return f"INSERT INTO {table} ({names}) {_select(model, columns)}{back}"


def _select(model, names) -> str:
    """SQL reading the rows from one JSON parameter (a list of lists, see `_encode`), each
    value typed as its column, as given_0, given_1..."""
    values = []
    for index, field in enumerate(_fields(model, tuple(names))):
        db_type = field.db_type(connection)
        values.append(f"NULLIF(item -> {index}, 'null') AS given_{index}" if db_type == "jsonb"
                      else f"(item ->> {index})::{db_type} AS given_{index}")
    return f"SELECT {', '.join(values)} FROM jsonb_array_elements(%s::jsonb) AS item"


def _encode(rows: Sequence[Sequence]) -> str:
    """The rows as one JSON text, dates and times in full (ISO 8601, to the microsecond;
    Django's own encoder would cut them to milliseconds). The JSON columns' values are
    plain JSON already, as their hash chain requires. orjson writes no integer past 64
    bits (a large number a user typed): those rows go through the standard encoder."""
    try:
        return orjson.dumps(rows).decode()
    except orjson.JSONEncodeError:
        return _standard_encode(rows)


def _in_full(value) -> str:
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    raise TypeError(f"a {type(value).__name__} is not a value db_many writes")


_standard_encode = json.JSONEncoder(ensure_ascii=False, default=_in_full).encode


def _prepared(fields, row) -> list:
    """The values as the database takes them, as the ORM would prepare them."""
    return [field.get_db_prep_save(value, connection)
            for field, value in zip(fields, row, strict=True)]


@cache
def _fields(model, names: tuple[str, ...]) -> tuple:
    """The fields of attribute names: `campaign_id` is the field `campaign`."""
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    missing = [name for name in names if name not in by_attname]
    if missing:
        raise LookupError(f"{model.__name__} has no column attribute {missing[0]!r}")
    return tuple(by_attname[name] for name in names)


def _column(model, name: str) -> str:
    return _quote(_fields(model, (name,))[0].column)


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def bound_cursor() -> CursorWrapper:
    """A cursor on Django's connection, so in its transaction and seen by its execute
    wrappers, that sends the parameters apart from the statement: Django's own quotes them
    into the SQL text, which made an import's writes five times slower and took most of the
    do-not-call lookup's time. Logged as Django's own cursors are when it logs queries
    (DEBUG, a test's CaptureQueriesContext), so tests count its statements, each logged
    with its placeholders, not the document."""
    connection.ensure_connection()
    cursor = psycopg.Cursor(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(cursor)
    return connection.make_cursor(cursor)


# A subquery of the ids given as one JSON parameter (`ids_given`), for `WHERE id IN ...` in
# SQL written once per vendor: the ORM's query, a parameter an id, took 0.7 s to make for
# 20,000 ids, and SQLite refuses one of more than 32,766.
IDS_AMONG = {"postgresql": "(SELECT jsonb_array_elements_text(%s::jsonb)::bigint)",
             "sqlite": "(SELECT value FROM json_each(%s))"}


def ids_given(ids) -> str:
    """The ids as the one parameter of `IDS_AMONG`'s subquery."""
    return orjson.dumps(list(ids)).decode()
