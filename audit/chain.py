"""The hash chain over every audit entry: what a link covers and how the next one is added.

Each entry is two links: *begun* (who, when, campaign, what was sent; written with the
pending row) and *completed* (the outcome, Thulium's answer, and the begun link's hash).
Links are numbered by one sequence shared by all kinds of entries, taken under the lock
of the single `ChainHead` row, and each hash covers the previous link's hash, so an entry
that is edited, removed or slipped in breaks the chain from that point on.
"""

import hashlib
import json
from datetime import UTC
from functools import cache

from django.apps import apps
from django.db import connection, transaction

from portal.auditing import AppendOnlyError, AuditAttempt

from .models import ChainHead

BEGUN, COMPLETED = "begun", "completed"
LINK_FIELDS = frozenset({"begin_seq", "begin_hash", "complete_seq", "complete_hash"})
# Python writes floats from 1e16 up with an exponent; PostgreSQL's jsonb gives them back
# as integers, so they are stored as integers and hash the same before and after.
_EXPONENT_FLOAT = 1e16


class ChainBroken(Exception):
    """The chain cannot be extended safely: its head is missing though entries exist."""


def chained_models() -> list[type[AuditAttempt]]:
    """Every kind of audit entry in the project, registered in the timeline or not."""
    return [model for model in apps.get_models() if issubclass(model, AuditAttempt)]


@cache
def begun_fields(model) -> tuple[str, ...]:
    """Attribute names the begun link covers: all but the key, the links and the outcome."""
    return tuple(
        field.attname for field in model._meta.concrete_fields
        if not field.primary_key and field.attname not in LINK_FIELDS
        and field.name not in model.completion_fields
    )


@cache
def completed_fields(model) -> tuple[str, ...]:
    """Attribute names the completed link covers, besides the begun link's hash."""
    return tuple(model._meta.get_field(name).attname for name in model.completion_fields)


_canonical = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    # The datetimes, in UTC as the database gives them back whatever zone they came in.
    default=lambda value: value.astimezone(UTC).isoformat(),
).encode


def payload(values: dict) -> str:
    """The canonical text of a link's values.

    NULLs are left out, so a nullable column added to a kind later leaves the hashes of
    older rows intact (and an absent key still tells NULL apart from any value).
    """
    return _canonical({name: value for name, value in values.items() if value is not None})


def link_hash(previous: str, seq: int, label: str, stage: str, text: str) -> str:
    return hashlib.sha256(f"{previous}\n{seq}\n{label}\n{stage}\n{text}".encode()).hexdigest()


def begun_values(entry) -> dict:
    return {name: getattr(entry, name) for name in begun_fields(type(entry))}


def completed_values(entry) -> dict:
    values = {name: getattr(entry, name) for name in completed_fields(type(entry))}
    return {"begin_hash": entry.begin_hash, **values}


def link_begun(entries) -> None:
    """Save new entries of one kind as the next links; raises ChainBroken if the head is missing.

    Several at once (an import's batch) take the head once and are written in one INSERT,
    so the head's lock is held for a few statements, not for a statement per entry.
    """
    model = type(entries[0])
    for entry in entries:
        _normalise(entry, begun_fields(model))
    with transaction.atomic():
        seq, previous = _next_seq(len(entries))
        for entry in entries:
            entry.begin_seq = seq
            entry.begin_hash = previous = link_hash(
                previous, seq, model._meta.label_lower, BEGUN, payload(begun_values(entry))
            )
            seq += 1
        model.objects.bulk_create(entries)
        _advance(previous)


def link_completed(completions: list[tuple]) -> None:
    """Store pending entries' outcomes, given as (entry, values) pairs, as the next links;
    raises AppendOnlyError if one is not pending (and then stores none)."""
    for entry, values in completions:
        model = type(entry)
        for name, value in values.items():
            setattr(entry, model._meta.get_field(name).attname, value)
        _normalise(entry, completed_fields(model))
    with transaction.atomic():
        seq, previous = _next_seq(len(completions))
        for entry, _values in completions:
            model = type(entry)
            entry.complete_seq = seq
            entry.complete_hash = previous = link_hash(
                previous, seq, model._meta.label_lower, COMPLETED,
                payload(completed_values(entry)),
            )
            changed = {name: getattr(entry, name) for name in completed_fields(model)}
            done = model.objects.filter(pk=entry.pk)._complete_pending(
                **changed, complete_seq=seq, complete_hash=entry.complete_hash
            )
            if not done:
                raise AppendOnlyError(f"{model._meta.label_lower} #{entry.pk} is already complete")
            seq += 1
        _advance(previous)


def _normalise(entry, names) -> None:
    """Give the entry the values the database will hand back, so both hash the same."""
    fields = _fields_by_attname(type(entry))
    for name in names:
        value = fields[name].to_python(getattr(entry, name))
        if fields[name].get_internal_type() == "JSONField":
            value = _json_number_safe(value)
        setattr(entry, name, value)


@cache
def _fields_by_attname(model) -> dict:
    return {field.attname: field for field in model._meta.concrete_fields}


def _json_number_safe(value):
    if isinstance(value, dict):
        return {key: _json_number_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_number_safe(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) >= _EXPONENT_FLOAT:
        return int(value)
    return value


def _next_seq(count: int = 1) -> tuple[int, str]:
    """Take the next `count` sequence numbers (the first is returned) and the last hash,
    holding the head's row lock until the transaction ends.

    The UPDATE comes first so that it is what takes the lock: on PostgreSQL a row lock, on
    SQLite the database's write lock (a read first could deadlock two writers). It hands
    back the new number and the last hash itself (RETURNING, on both databases), as every
    audited action pays for this statement twice.
    """
    with connection.cursor() as cursor:
        cursor.execute(_head_sql("UPDATE {head} SET seq = seq + %s WHERE {key} = %s "
                                 "RETURNING seq, last_hash"), [count, ChainHead.ONLY])
        taken = cursor.fetchone()
    if taken is None:
        _start_chain()
        return _next_seq(count)
    last, previous = taken
    return last - count + 1, previous


def _advance(new_hash: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_head_sql("UPDATE {head} SET last_hash = %s WHERE {key} = %s"),
                       [new_hash, ChainHead.ONLY])


@cache
def _head_sql(template: str) -> str:
    quote = connection.ops.quote_name
    return template.format(head=quote(ChainHead._meta.db_table),
                           key=quote(ChainHead._meta.pk.column))


def _start_chain() -> None:
    """Create the head for an empty trail; a missing head with entries is tampering."""
    if any(model.objects.filter(begin_seq__isnull=False).exists() for model in chained_models()):
        raise ChainBroken("the audit chain's head is missing although entries exist: "
                          "run manage.py verify_audit")
    ChainHead.objects.get_or_create(pk=ChainHead.ONLY)
