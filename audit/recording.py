"""Writing the audit log: the only code that adds entries, completes them or erases from them.

A feature writes an entry *pending* (`entry_begin`, its own short transaction, committed
before Thulium is called), then completes it once with the outcome (`entry_complete`).
Several at once (an import's batch) take the chain's head once and are written in one
INSERT, so the head's lock is held for a few statements, not a statement per entry.
"""

import json
from functools import cache

from django.db import connection, models, transaction
from django.db.models.base import ModelState
from django.utils import timezone

from portal.db_many import insert_each, update_each
from portal.phones import phone_key, phone_keys_in

from .chain import (
    BEGUN,
    BEGUN_FIELDS,
    COMPLETED,
    COMPLETED_FIELDS,
    begun_texts,
    completed_text,
    json_number_safe,
    link_hash,
    link_key_missing,
)
from .kinds import ERASURE, get_kind, personal_held, value_at, values_at
from .models import AppendOnlyError, ChainHead, Entry, Outcome, SearchTerm
from .personal import (
    current_key_id,
    digest,
    erase_values,
    marker_erasure,
    marker_when,
    places,
)

# Who the worker's own steps are recorded as (their actor None): its command. A step it takes
# for a user's change (a scheduled change it cancels) is not that user's doing.
WORKER = "run_worker"


class ChainBroken(Exception):
    """The chain cannot be extended safely: its head is missing though entries exist, or
    its last link was made under a key this process is not given."""


def entry_new(*, kind: str, actor, campaign=None, sent=None, reason: str = "",
              details=None, related=None, actor_username: str = "", **fields) -> Entry:
    """An entry not written yet: `entries_begin` writes it, alone or with others.

    `actor` is None for the portal's own doing; `actor_username` then says who.
    """
    entry_kind = get_kind(kind)
    if entry_kind is None:
        raise ValueError(f"no app registers the audit kind {kind!r}")
    return Entry(
        kind=kind, actor=actor,
        actor_username=actor.get_username() if actor is not None else actor_username,
        campaign=campaign, sent=sent if sent is not None else {}, reason=reason,
        details=details or {}, related=related,
        pii_key=current_key_id() if entry_kind.personal or entry_kind.phone else "",
        **fields,
    )


def entries_new(*, sents: list[dict], **fields) -> list[Entry]:
    """Entries not written yet that differ only in what was sent (an import's claim): one
    `entry_new` each, but the values they share are worked out once.

    The others are made as copies of the first's attributes, past Model.__init__, which
    took a tenth of an import's claiming thread and here takes an eighth of its time: an
    entry's state is its attributes' values and its `_state` (new, with the first's
    campaign and actor cached), as Django's own unpickling gives it.
    """
    if not sents:
        return []
    first = entry_new(sent=sents[0], **fields)
    shared = {name: getattr(first, name) for name in _attnames()}
    # An empty default ({} or []) is each entry's own, as entry_new gives it.
    own = [name for name, value in shared.items()
           if name != "sent" and isinstance(value, dict | list) and not value]
    cached = first._state.fields_cache
    entries = [first]
    for sent in sents[1:]:
        entry = Entry.__new__(Entry)
        entry.__dict__.update(shared)
        entry.sent = sent
        for name in own:
            setattr(entry, name, type(shared[name])())
        entry._state = ModelState()
        entry._state.fields_cache = dict(cached)
        entries.append(entry)
    return entries


@cache
def _attnames() -> tuple[str, ...]:
    return tuple(field.attname for field in Entry._meta.concrete_fields)


def entry_begin(**fields) -> Entry:
    """Write the entry as pending (see `entry_new` for the fields); returns it."""
    entry = entry_new(**fields)
    entries_begin([entry])
    return entry


def entries_begin(entries: list[Entry]) -> None:
    """Write new entries as pending, as the next links, in one transaction.

    Entries given their ids by `entries_reserve` are written with them; others get theirs
    now, before their links are made, which cover them. Raises ChainBroken if the chain
    cannot be extended (see _next_seq).
    """
    reserved = entries[0].pk is not None
    if not reserved:
        for entry, new_id in zip(entries, _new_ids(len(entries)), strict=True):
            _normalise(entry, BEGUN_FIELDS)
            entry.pk = new_id
    # What each link covers is worked out before the chain's head is taken: every audited
    # write waits for the head, and this was a third of the time an import's claim held it.
    texts = begun_texts([_values(entry, BEGUN_FIELDS) for entry in entries])
    # Part of the caller's transaction when there is one: a savepoint would cost two
    # statements on every audited action, and a failure rolls the whole of it back anyway.
    with transaction.atomic(savepoint=False):
        seq, previous, kept = _next_seq(len(entries))
        _keys_kept(entries, kept)
        key_id = current_key_id()
        for entry, text in zip(entries, texts, strict=True):
            entry.begin_seq = seq
            entry.begin_hash = previous = link_hash(previous, seq, BEGUN, text,
                                                    entry_id=entry.pk, key_id=key_id)
            seq += 1
        _insert(entries)
        _advance(previous)
        if not reserved:
            _add_terms(entries, stage=BEGUN)


def entries_reserve(entries: list[Entry], *, phone_keys: list[str] | None = None) -> None:
    """Give new entries their ids and write their search terms, ahead of `entries_begin` in
    the same transaction. `phone_keys`, when the caller has them (an import's rows keep
    theirs), are the entries' numbers' canonical keys: parsing each number again took a
    tenth of an import's claims.

    The caller's own rows that refer to the entries can then be written before them too,
    and the chain's head, which every audited write waits for, is held only while the
    entries themselves are written: an import's claims and its storing no longer wait for
    each other's other writes. The references are checked at commit (Django's foreign keys
    are deferred). Whoever writes rows that others' entries refer to (the added records)
    writes them before taking the head, never after: the two orders could deadlock.
    """
    for entry in entries:
        _normalise(entry, BEGUN_FIELDS)
    for entry, new_id in zip(entries, _new_ids(len(entries)), strict=True):
        entry.pk = new_id
    _add_terms(entries, stage=BEGUN, phone_keys=phone_keys)


def entry_numbers_add(entry: Entry, *, digests: list[str]) -> None:
    """Make an entry that stands for many numbers without holding them (a do-not-call
    upload's) found by each of them, in the search box, as an entry holding one is:
    `digests` are the numbers' canonical keys' digests under the entry's key
    (`digest(key, entry.pii_key)`). Its id is given (`entries_reserve`); an erasure of one
    of the numbers finds it, and leaves it as it is (audit.erasure: it names no number)."""
    insert_each(SearchTerm, columns=["entry_id", "term"],
                rows=[(entry.pk, term) for term in digests])


def _new_ids(count: int) -> list[int]:
    """`count` ids of entries not written yet, never handed out again.

    PostgreSQL's sequence does it; SQLite has none, but its AUTOINCREMENT counter is a
    row of sqlite_sequence that a transaction (each takes the write lock at its start,
    see settings) can move on: one of its own outside the caller's, or two first entries
    at once (none in the log yet) each found no counter and made it, with the same ids.
    """
    table = Entry._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                           "FROM generate_series(1, %s)", [table, count])
            return [new_id for (new_id,) in cursor.fetchall()]
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute("UPDATE sqlite_sequence SET seq = seq + %s WHERE name = %s "
                       "RETURNING seq", [count, table])
        if (moved := cursor.fetchone()) is None:  # no entry was ever written
            cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)",
                           [table, count])
            moved = (count,)
    return list(range(moved[0] - count + 1, moved[0] + 1))


def _insert(entries: list[Entry]) -> None:
    """Write the entries, with their ids, in one statement (db_many).

    Django's bulk_create prepares each value through its SQL compiler, which took a quarter
    of an import's database thread.
    """
    names = [field.attname for field in Entry._meta.concrete_fields]
    insert_each(Entry, columns=names,
                rows=[[getattr(entry, name) for name in names] for entry in entries])
    for entry in entries:
        entry._state.adding, entry._state.db = False, connection.alias


def outcome_values(*, outcome: str, http_status=None, request_id="", messages=(), detail="",
                   results=None) -> dict:
    """What completing stores, timed now: `entries_complete` can store it later."""
    return {
        "outcome": outcome, "http_status": http_status, "request_id": request_id,
        "messages": list(messages), "detail": detail, "results": results or {},
        "completed_at": timezone.now(),
    }


def error_values(error) -> dict:
    """The outcome of a call that failed with a gateway error (`portal.thulium.ThuliumError`)."""
    return outcome_values(
        outcome=error.outcome, http_status=error.status, request_id=error.request_id,
        messages=error.messages,
        detail="\n".join(part for part in (error.detail, error.body) if part),
    )


def entry_complete(entry: Entry, **outcome) -> Entry:
    """Store the entry's outcome (see outcome_values), once; raises AppendOnlyError if done."""
    entries_complete([(entry, outcome_values(**outcome))])
    return entry


def entry_fail(entry: Entry, error) -> Entry:
    """Store the outcome of a gateway error (see error_values)."""
    entries_complete([(entry, error_values(error))])
    return entry


def entries_complete(completions: list[tuple[Entry, dict]]) -> None:
    """Store pending entries' outcomes, as (entry, values) pairs, as the next links.

    One statement run for all of them (an import completes hundreds at once), each row
    only while still pending. Raises AppendOnlyError if one is not pending (and then
    stores none).
    """
    for entry, values in completions:
        for name, value in values.items():
            setattr(entry, name, value)
        _normalise(entry, COMPLETED_FIELDS)
    with transaction.atomic(savepoint=False):
        # The search terms and what each link covers before the chain's head, which is then
        # held for less.
        _add_terms([entry for entry, _values_given in completions], stage=COMPLETED)
        texts = [completed_text(_values(entry, COMPLETED_FIELDS), kind=entry.kind,
                                pii_key=entry.pii_key, begin_hash=entry.begin_hash)
                 for entry, _values_given in completions]
        seq, previous, _kept = _next_seq(len(completions))
        _answers_erased([entry for entry, _values_given in completions])
        rows, key_id = [], current_key_id()
        for (entry, _values_given), text in zip(completions, texts, strict=True):
            entry.complete_seq = seq
            entry.complete_hash = previous = link_hash(previous, seq, COMPLETED, text,
                                                       key_id=key_id)
            rows.append([*(getattr(entry, name) for name in COMPLETED_FIELDS),
                         seq, entry.complete_hash, entry.pk])
            seq += 1
        stored = update_each(Entry, keys=["id"], rows=rows,
                             columns=[*COMPLETED_FIELDS, "complete_seq", "complete_hash"],
                             where=f"outcome = '{Outcome.PENDING}'")
        if stored != len(rows):
            pending = [entry.pk for entry, _values_given in completions]
            raise AppendOnlyError(f"one of audit entries {pending[:20]} is already complete")
        _advance(previous)


def _answers_erased(entries: list[Entry]) -> None:
    """Erase the answers about to complete those of the entries a person's erasure reached
    while they were pending (a send whose answer came after it): Thulium's words may repeat
    the person's data. They are erased under that erasure's markers, which carry the
    digests the chain covers, so each link's hash stays as worked out.

    The erasure holds the chain's head while it erases (audit.erasure), and the caller
    holds it now: an entry is read here either erased whole or not at all.
    """
    given = {entry.pk: entry for entry in entries}
    for erased in Entry.objects.filter(pk__in=given, erased_at__isnull=False):
        entry, kind = given[erased.pk], get_kind(erased.kind)
        # Its markers name the erasure (its number is one of them); failing that, the
        # erasure's own entry does.
        when, reference = next(
            (erasure for container, key in places(_values(erased, BEGUN_FIELDS), kind.personal)
             if (erasure := marker_erasure(container[key]))), None) or _erasure_at(
            erased.erased_at)
        values = _values(entry, COMPLETED_FIELDS)
        erase_values(values, personal_held(kind, values), key_id=entry.pii_key, when=when,
                     reference=reference)
        for name, value in values.items():
            setattr(entry, name, value)


def _erasure_at(moment) -> tuple[str, str]:
    """(when, reference) of the erasure recorded as made at the moment."""
    reference = (Entry.objects.filter(kind=ERASURE.slug, details__erased_at=moment.isoformat())
                 .values_list("reason", flat=True).first())
    return marker_when(moment), reference or ""


def chain_hold() -> None:
    """Hold the chain's head until the transaction ends, before writing any link: an
    erasure, which must not interleave with entries being completed (see
    audit.erasure.forget_number)."""
    _next_seq(0)


def guarded_update(queryset, **values) -> int:
    """An UPDATE past the append-only guard, for the two changes history allows: completing
    a pending entry, and erasing personal values."""
    return models.QuerySet.update(queryset, **values)


def _values(entry: Entry, names) -> dict:
    return {name: getattr(entry, name) for name in names}


def _normalise(entry: Entry, names: tuple[str, ...]) -> None:
    """Give the entry the values the database will hand back, so both hash the same."""
    for name, normal in _normalisers(names):
        setattr(entry, name, normal(getattr(entry, name)))


@cache
def _normalisers(names: tuple[str, ...]) -> tuple:
    """(attribute name, function) for each of the names that the database may hand back
    otherwise than given; worked out once, not per entry (an import normalises thousands)."""
    fields = {field.attname: field for field in Entry._meta.concrete_fields}
    found = []
    for name in names:
        field = fields[name]
        if field.get_internal_type() == "JSONField":
            found.append((name, json_number_safe))
        elif not field.is_relation:
            found.append((name, field.to_python))
    return tuple(found)


def search_terms(entry: Entry, stage: str, *, known_key: str | None = None) -> set[str]:
    """What the search box finds the entry by, from the values one link wrote (`known_key`:
    its number's canonical key, if the caller has it)."""
    phone, searched, other_phones = _search_places(entry.kind, stage)
    terms = set()
    if phone:
        number = value_at(entry, phone)
        if isinstance(number, str) and number:
            terms.add(digest(known_key or phone_key(number), entry.pii_key))
    for place in other_phones:
        for value in values_at(entry, place):
            terms.update(digest(key, entry.pii_key) for key in phone_keys_in(value))
    for place, personal in searched:
        value = value_at(entry, place)
        if value in (None, ""):
            continue
        value = str(value)
        terms.add(digest(value, entry.pii_key) if personal else value[:255])
    return terms


@cache
def _search_places(slug: str, stage: str) -> tuple[str, tuple[tuple[str, bool], ...],
                                                   tuple[str, ...]]:
    """The kind's number's place ("" if none), its other search places, each with whether
    it is personal, and the places of other numbers of the person, among those one link
    writes: worked out once per kind and link, not per entry (an import's claim makes the
    terms of thousands)."""
    kind = get_kind(slug)
    if kind is None:
        return "", (), ()
    names = BEGUN_FIELDS if stage == BEGUN else COMPLETED_FIELDS
    phone = kind.phone if kind.phone and kind.phone.split(".")[0] in names else ""
    return (phone,
            tuple((place, place in kind.personal) for place in kind.search
                  if place.split(".")[0] in names),
            tuple(place for place in kind.other_phones if place.split(".")[0] in names))


def _add_terms(entries: list[Entry], *, stage: str, phone_keys: list[str] | None = None) -> None:
    keys = phone_keys if phone_keys is not None else [None] * len(entries)
    insert_each(SearchTerm, columns=["entry_id", "term"],
                rows=[(entry.pk, term) for entry, key in zip(entries, keys, strict=True)
                      for term in search_terms(entry, stage, known_key=key)])


def last_link() -> int:
    """The number of the chain's last committed link: whatever is begun or completed from
    now on gets a higher one (0 for an empty log)."""
    return ChainHead.objects.filter(pk=ChainHead.ONLY).values_list("seq", flat=True).first() or 0


def _next_seq(count: int = 1) -> tuple[int, str, list[str]]:
    """Take the next `count` sequence numbers (the first is returned), the last hash and
    the keys entries were made under, holding the head's row lock until the transaction
    ends. Raises ChainBroken if the last
    link was made under a key this process is not given: a process started before a
    rotation of the key, still running beside those started after it, would link back
    under the old key, which verify_audit takes for a forgery (audit.verify).

    The UPDATE comes first so that it is what takes the lock: on PostgreSQL a row lock, on
    SQLite the database's write lock (a read first could deadlock two writers). It hands
    back the new number and the last hash itself (RETURNING, on both databases), as every
    audited action pays for this statement twice.
    """
    with connection.cursor() as cursor:
        cursor.execute(_HEAD_TAKE, [count, ChainHead.ONLY])
        taken = cursor.fetchone()
    if taken is None:
        _start_chain()
        return _next_seq(count)
    last, previous, kept = taken
    if key_id := link_key_missing(previous):
        raise ChainBroken(f"the audit chain's last link was made under key {key_id}, which this "
                          "process is not given: restart it with the current AUDIT_PII_KEY")
    # SQLite hands JSON back as its text.
    return last - count + 1, previous, json.loads(kept) if isinstance(kept, str) else kept


def _keys_kept(entries: list[Entry], kept: list[str]) -> None:
    """Add the keys the entries are made under to those the head keeps, if new (the head is
    held): what an erasure asks first (audit.erasure.entry_keys_missing)."""
    if new := {entry.pii_key for entry in entries if entry.pii_key}.difference(kept):
        ChainHead.objects.filter(pk=ChainHead.ONLY).update(pii_keys=sorted({*kept, *new}))


def _advance(new_hash: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_HEAD_ADVANCE, [new_hash, ChainHead.ONLY])


_HEAD_TAKE = ('UPDATE "audit_chainhead" SET seq = seq + %s WHERE id = %s '
              'RETURNING seq, last_hash, pii_keys')
_HEAD_ADVANCE = 'UPDATE "audit_chainhead" SET last_hash = %s WHERE id = %s'


def _start_chain() -> None:
    """Create the head for an empty log; a missing head with entries is tampering.

    Writers that all found no head (the first entries of a log, written concurrently) race
    to create it: the one that does checks that the log is empty, the others use its head.
    """
    _, created = ChainHead.objects.get_or_create(pk=ChainHead.ONLY)
    if created and Entry.objects.filter(begin_seq__isnull=False).exists():
        raise ChainBroken("the audit chain's head is missing although entries exist: "
                          "run manage.py verify_audit")
