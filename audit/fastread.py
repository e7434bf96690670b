"""Reading a million rows fast: times and JSON as the database's text, parsed by C code.

Django's converters cost microseconds a value (and on PostgreSQL it parses timestamps with
psycopg's pure-Python loader); a million rows carry several million such values. Read as
text instead, `datetime.fromisoformat` and `json.loads` give the very same values.
"""

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast

_AS_TEXT = {"JSONField": "json", "DateTimeField": "moment"}


@dataclass(frozen=True)
class TextRead:
    annotations: dict  # for QuerySet.annotate()
    names: tuple[str, ...]  # for QuerySet.values_list(), in the order asked for
    json_places: tuple[int, ...]
    moment_places: tuple[int, ...]

    def parse(self, values: list, *, json_too: bool = True, moments=None) -> list:
        """The row's values as Django would give them (JSON left as text unless json_too;
        times made by `moments` from their text, if given)."""
        for place in self.moment_places:
            values[place] = (moments or moment)(values[place])
        for place in self.json_places if json_too else ():
            text = values[place]
            if text is not None:
                empty = _EMPTY.get(text)
                values[place] = json.loads(text) if empty is None else empty()
        return values


# Most entries leave some JSON fields empty; their value is made without a parser.
_EMPTY = {"{}": dict, "[]": list, '""': str}


def read_as_text(model, names) -> TextRead:
    """How to read the given fields (by attribute name, or "pk") of a model fast."""
    fields = {field.attname: field for field in model._meta.concrete_fields}
    kinds = [_AS_TEXT.get(fields[name].get_internal_type()) if name in fields else None
             for name in names]
    return TextRead(
        annotations={f"{name}_as_text": Cast(name, TextField())
                     for name, kind in zip(names, kinds, strict=True) if kind},
        names=tuple(f"{name}_as_text" if kind else name
                    for name, kind in zip(names, kinds, strict=True)),
        json_places=tuple(place for place, kind in enumerate(kinds) if kind == "json"),
        moment_places=tuple(place for place, kind in enumerate(kinds) if kind == "moment"),
    )


def moment(text: str | None) -> datetime | None:
    """An instant from its stored text: PostgreSQL writes its offset, SQLite stores UTC bare."""
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def utc_text(text: str | None) -> str | None:
    """An instant's stored text as `moment(text).astimezone(UTC).isoformat()` writes it,
    without making a datetime where the text is in UTC: SQLite's own form
    ("2025-01-01 04:22:48[.600000]"), or PostgreSQL's in a UTC session
    ("2025-01-01 04:22:48[.6]+00")."""
    if text is None:
        return None
    # Each form's pattern only where it may match: verify_audit reads two million times.
    if text.endswith("+00") and (found := _POSTGRES_UTC.fullmatch(text)):
        day, time, fraction = found.groups()
        return f"{day}T{time}{'.' + fraction.ljust(6, '0') if fraction else ''}+00:00"
    if _sqlite_form(text):
        return f"{text[:10]}T{text[11:]}+00:00"
    return moment(text).astimezone(UTC).isoformat()


def local_times(zone):
    """A function writing times as stored in SQLite (UTC, "2025-01-01 04:22:48[.600000]")
    in the zone, as `moment(text).astimezone(zone).isoformat()` would, but cheaply.

    A million rows hold a million times but a few thousand hours: the zone's date, hour
    and offset are worked out once an hour (where the offset stays a whole number of hours
    all through it), and the minutes and seconds are the stored ones.
    """
    hours = {}

    def write(text: str | None) -> str:
        if text is None:
            return ""
        plain = _sqlite_form(text)
        if plain and (hour := hours.get(text[:13])) is None:
            hour = hours[text[:13]] = _hour_in(text[:13], zone)
        if not plain or not hour:
            return moment(text).astimezone(zone).isoformat()
        return f"{hour[0]}{text[13:]}{hour[1]}"

    return write


# As SQLite stores a time (UTC), and as PostgreSQL writes one in a UTC session; each as
# isoformat() would write it, microseconds only when there are some.
_SQLITE_FORM = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.(?!000000)\d{6})?")
_POSTGRES_UTC = re.compile(r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{0,5}[1-9]))?\+00")


def _sqlite_form(text: str) -> bool:
    return _SQLITE_FORM.fullmatch(text) is not None


def _hour_in(utc_hour: str, zone) -> tuple[str, str] | tuple[()]:
    """("2025-01-01T05", "+01:00") for "2025-01-01 04" in Warsaw; () where the offset
    changes within the hour or is not whole hours."""
    start = datetime.fromisoformat(f"{utc_hour}:00:00").replace(tzinfo=UTC)
    first = start.astimezone(zone)
    last = (start + timedelta(hours=1, microseconds=-1)).astimezone(zone)
    if first.utcoffset() != last.utcoffset() or first.utcoffset() % timedelta(hours=1):
        return ()
    written = first.isoformat()
    return written[:13], written[19:]


@contextmanager
def long_read():
    """One consistent view of the database for a long read, holding up no writer.

    On PostgreSQL a transaction of its own is REPEATABLE READ: each statement of a READ
    COMMITTED one sees the database as it is when it starts, and a check of the audit log
    that read the chain's head, then the links past it (or the erasures recorded, then the
    entries erased), took an entry committed in between for tampering. One begun by the
    caller keeps its own isolation, which can no longer be changed.
    PostgreSQL streams a cursor only inside a transaction; times are then written in ISO
    8601, whatever the server's default, and no query is compiled (JIT): a read of the
    whole log costs enough for PostgreSQL to compile its expressions in each of its
    processes, which took a second of each before the first row and was never won back
    (the CSV export of a million entries ran in 6.5-6.8 s without it, 7.2-8.7 s with it).
    On SQLite the portal's transactions take the write lock as they begin (IMMEDIATE),
    which would stop every audited action for as long as the read lasts; a DEFERRED one
    reads a snapshot and, in WAL mode, blocks no writer.
    """
    if connection.vendor == "postgresql":
        snapshot = ("" if connection.in_atomic_block
                    else "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; ")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"{snapshot}SET LOCAL DateStyle = 'ISO'; SET LOCAL jit = off")
            yield
    elif connection.in_atomic_block:
        yield  # the caller's transaction is the snapshot
    else:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("COMMIT")
