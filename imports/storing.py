"""Writing an upload and its preview's rows in bulk: the one place the imports app speaks
SQL.

A 100,000-row file must be previewed in seconds. Building a model instance per row and
letting bulk_create prepare every field costs more than checking the rows; COPY on
PostgreSQL (and one executemany elsewhere) writes plain tuples instead. A 20 MB upload is
written as one binary parameter, and read as a binary column, not as the hex text the
ORM's statements carry.
"""

import json
from typing import NamedTuple

import psycopg
from django.db import connection
from django.db.models import BinaryField
from django.db.models.functions import Substr

from .models import ImportRow, ImportUpload


class CheckedRow(NamedTuple):
    """A row as the preview judged it, ready to be written."""

    number: int
    state: str
    phone_number: str = ""
    phone_key: str = ""
    payload: dict | None = None
    values: dict | None = None
    problems: list | None = None


# Columns written, in order; the others keep their defaults (see `_row`).
_COLUMNS = ("job_id", "number", "state", "phone_number", "phone_key", "payload", "values",
            "problems", "claimed_by")


def upload_insert(job, content: bytes) -> None:
    """Keep the uploaded bytes. PostgreSQL is sent them apart from the statement, as a
    binary parameter: Django's cursors bind parameters on the client, which wrote a 20 MB
    file into the statement as hex text, 148 MB more of the web process's memory, against
    37 MB this way."""
    if connection.vendor != "postgresql":
        ImportUpload.objects.create(job=job, content=content)
        return
    table = connection.ops.quote_name(ImportUpload._meta.db_table)
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:  # server-side binding
        cursor.execute(f"INSERT INTO {table} (job_id, content) VALUES (%s, %b)",
                       [job.pk, content])


def upload_content(job) -> bytes:
    """The uploaded bytes. PostgreSQL is asked for them in binary: Django's cursors read a
    bytea column as hex text, and reading a 20 MB file so took 113 MB more of the process's
    memory at its peak, against 57 MB this way."""
    if connection.vendor != "postgresql":
        return bytes(ImportUpload.objects.values_list("content", flat=True).get(job=job))
    table = connection.ops.quote_name(ImportUpload._meta.db_table)
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(f"SELECT content FROM {table} WHERE job_id = %s", [job.pk], binary=True)
        found = cursor.fetchone()
    if found is None:
        raise ImportUpload.DoesNotExist
    return found[0]


def upload_start(job, size: int) -> bytes:
    """The first `size` bytes of the upload (PostgreSQL decompresses only those)."""
    return bytes(ImportUpload.objects.filter(job=job).annotate(
        start=Substr("content", 1, size, output_field=BinaryField())
    ).values_list("start", flat=True).get())


def rows_delete(job) -> None:
    """Forget the rows of an earlier preview (never sent: previews end before sending)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_table()} WHERE job_id = %s", [job.pk])


def rows_insert(job, rows: list[CheckedRow]) -> None:
    """Write the rows of `job`; call inside the preview's transaction."""
    if not rows:
        return
    values = [_row(job.pk, row) for row in rows]
    columns = ", ".join(connection.ops.quote_name(name) for name in _COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {_table()} ({columns}) FROM STDIN") as copy:
                for value in values:
                    copy.write_row(value)
        else:
            marks = ", ".join(["%s"] * len(_COLUMNS))
            cursor.executemany(f"INSERT INTO {_table()} ({columns}) VALUES ({marks})", values)


def _row(job_id, row: CheckedRow) -> tuple:
    return (
        job_id, row.number, row.state, row.phone_number, row.phone_key,
        None if row.payload is None else _json(row.payload), _json(row.values or {}),
        _json(row.problems or []), "",
    )


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _table() -> str:
    return connection.ops.quote_name(ImportRow._meta.db_table)
