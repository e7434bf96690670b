"""Reading a million rows fast: times and JSON as the database's text, parsed by C code.

Django's converters cost microseconds a value (and on PostgreSQL it parses timestamps with
psycopg's pure-Python loader); a million rows carry several million such values. Read as
text instead, `datetime.fromisoformat` and `json.loads` give the very same values.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.db.models import TextField
from django.db.models.functions import Cast

_AS_TEXT = {"JSONField": "json", "DateTimeField": "moment"}


@dataclass(frozen=True)
class TextRead:
    annotations: dict  # for QuerySet.annotate()
    names: tuple[str, ...]  # for QuerySet.values_list(), in the order asked for
    json_places: tuple[int, ...]
    moment_places: tuple[int, ...]

    def parse(self, values: list, *, json_too: bool = True) -> list:
        """The row's values as Django would give them (JSON left as text unless json_too)."""
        for place in self.moment_places:
            values[place] = moment(values[place])
        for place in self.json_places if json_too else ():
            if values[place] is not None:
                values[place] = json.loads(values[place])
        return values


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


def iso_dates() -> None:
    """Make PostgreSQL write times in ISO 8601 until the transaction ends, whatever its default."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL DateStyle = 'ISO'")
