"""The hash chain over the audit log: what a link covers and how its hash is made.

Each entry is two links: *begun* (who, when, campaign, what was sent; written with the
pending entry) and *completed* (the outcome, Thulium's answer, and the begun link's hash).
Links are numbered by one sequence taken under the lock of the single `ChainHead` row,
and each hash covers the previous link's hash, so an entry that is edited, removed or
slipped in breaks the chain from that point on. Personal values are covered by their
keyed digest (`audit.personal`), so that they can be erased without breaking it.

A link's hash is an HMAC under a key kept outside the database (derived from the audit key,
AUDIT_PII_KEY): whoever may write the tables, but lacks the key, cannot make a link that
verify_audit takes, to append an entry, complete one or rewrite the log. The stored hash
names its key ("<key id>.<hex>"), so that links made before a rotation are checked under
the retired key; links made before the chain was keyed (2026-12) are plain SHA-256, with
no key id.
"""

import hashlib
import hmac
import json
import math
from datetime import UTC
from functools import cache

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from .kinds import get_kind
from .personal import KEY_ID_LENGTH, chained_copy, current_key_id, key_by_id, known_key_ids

BEGUN, COMPLETED = "begun", "completed"
BEGUN_FIELDS = ("kind", "actor_id", "actor_username", "created_at", "campaign_id",
                "portal_request_id", "reason", "sent", "details", "related_id", "pii_key")
COMPLETED_FIELDS = ("outcome", "completed_at", "http_status", "request_id", "messages",
                    "detail", "results")
# Python writes floats from 1e16 up with an exponent; PostgreSQL's jsonb gives them back
# as integers, so they are stored as integers and hash the same before and after.
_EXPONENT_FLOAT = 1e16

_canonical = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    # The datetimes, in UTC as the database gives them back whatever zone they came in.
    default=lambda value: value.astimezone(UTC).isoformat(),
).encode


def payload(values: dict) -> str:
    """The canonical text of a link's values.

    NULLs are left out, so a nullable column added later leaves the hashes of older
    entries intact (and an absent key still tells NULL apart from any value).
    """
    return _canonical({name: value for name, value in values.items() if value is not None})


# The key id of the links made before the chain was keyed: they have none.
UNKEYED = ""
# A link's hash as stored: its key's id, a dot and the HMAC (or a plain SHA-256 alone).
HASH_LENGTH = KEY_ID_LENGTH + 1 + 64


def link_hash(previous: str, seq: int, stage: str, text: str, *,
              entry_id: int | None = None, key_id: str | None = None) -> str:
    """The link's hash, "<key id>.<hex>", under the key of `key_id` (the current one by
    default; UNKEYED: a plain SHA-256, as links were made before 2026-12).

    A begun link covers its entry's id too (`entry_id`), so that an id given to another
    entry, which every reference to the entry goes by, breaks the chain; unkeyed links
    written before it did have none (verify_audit takes either, see audit.verify). Raises
    ImproperlyConfigured for a key id the portal is not given.
    """
    covered = text if entry_id is None else f"{entry_id}\n{text}"
    message = f"{previous}\n{seq}\n{stage}\n{covered}"
    if key_id == UNKEYED:
        return hashlib.sha256(message.encode()).hexdigest()
    return keyed_seal(message, purpose=LINKS, key_id=key_id)


def keyed_seal(text: str, *, purpose: bytes, key_id: str | None = None) -> str:
    """"<key id>.<hex>": an HMAC of the text under the key of `key_id` (the current one by
    default), derived for the purpose; raises ImproperlyConfigured for a key the portal
    is not given."""
    key_id = key_id or current_key_id()
    mac = _mac(key_id, purpose).copy()
    mac.update(text.encode())
    return f"{key_id}.{mac.hexdigest()}"


def seal_holds(text: str, seal: str, *, purpose: bytes) -> bool:
    """Whether the seal is the text's, under the key it names (one the portal is given)."""
    key_id = link_key_id(seal)
    try:
        return key_id != UNKEYED and hmac.compare_digest(
            keyed_seal(text, purpose=purpose, key_id=key_id), seal)
    except ImproperlyConfigured:
        return False


def link_key_id(stored: str) -> str:
    """The id of the key a stored hash was made under (UNKEYED for a plain SHA-256)."""
    return stored[:KEY_ID_LENGTH] if len(stored) == HASH_LENGTH else UNKEYED


def link_key_missing(stored: str) -> str:
    """The id of the key a stored hash was made under if this process is not given that key
    (started before a rotation, or given a mistyped AUDIT_PII_KEY), else ""."""
    key_id = link_key_id(stored)
    return key_id if key_id != UNKEYED and key_id not in known_key_ids() else ""


# What a key derived from the audit key is for: the chain's links, the last check's verdict.
LINKS, CHECKS = b"audit chain link", b"audit chain check"


@cache
def _mac(key_id: str, purpose: bytes):
    """The HMAC that makes links (or seals) under one key, the key mixed in once (each
    starts from a copy). The key is derived from the audit key for its purpose, not the key
    itself: a digest of a person's data, a link and a seal can never be mistaken for one
    another."""
    derived = hmac.new(key_by_id(key_id), purpose, hashlib.sha256).digest()
    return hmac.new(derived, digestmod=hashlib.sha256)


@receiver(setting_changed)
def _keys_changed(*, setting, **_kwargs) -> None:
    if setting in ("AUDIT_PII_KEY", "AUDIT_PII_RETIRED_KEYS"):
        _mac.cache_clear()


def begun_text(values: dict, *, erased: bool = False) -> str:
    """What the begun link covers, from the entry's values by attribute name (`erased`: the
    entry's personal values were erased, see audit.personal.chained_copy)."""
    return payload(chained_copy({name: values[name] for name in BEGUN_FIELDS},
                                _personal(values["kind"], BEGUN), values["pii_key"],
                                erased=erased))


def begun_texts(entries_values: list[dict]) -> list[str]:
    """`begun_text` of each entry's values. Entries made together (an import's claim, see
    audit.recording.entries_new) hold the very same values but what was sent: those are
    written out once, and each entry's text is theirs with its own "sent" after them (the
    last key in the canonical order), which halved the encoding of an import's entries."""
    first = entries_values[0]
    personal = _personal(first["kind"], BEGUN)
    shared = [name for name in BEGUN_FIELDS if name != "sent"]
    start = payload(chained_copy({name: first[name] for name in shared}, personal,
                                 first["pii_key"]))[:-1] + ',"sent":'
    texts = []
    for values in entries_values:
        if values["sent"] is None or not all(_same(values[name], first[name])
                                             for name in shared):
            texts.append(begun_text(values))
            continue
        chained = chained_copy({"sent": values["sent"]}, personal, values["pii_key"])
        texts.append(f"{start}{_canonical(chained['sent'])}}}")
    return texts


def _same(value, other) -> bool:
    """Whether the two write out alike for certain: the same object, or both empty and of
    one type (entries made together each have their own empty values)."""
    return value is other or (type(value) is type(other) and type(value) in (dict, list)
                              and not value and not other)


def completed_text(values: dict, *, kind: str, pii_key: str, begin_hash: str,
                   erased: bool = False) -> str:
    """What the completed link covers, from the entry's values by attribute name (`erased`
    as for begun_text)."""
    chained = chained_copy({name: values[name] for name in COMPLETED_FIELDS},
                           _personal(kind, COMPLETED), pii_key, erased=erased)
    return payload({"begin_hash": begin_hash, **chained})


@cache
def _personal(kind: str, stage: str) -> tuple[str, ...]:
    """The kind's personal places that lie in one link's fields."""
    entry_kind = get_kind(kind)
    names = BEGUN_FIELDS if stage == BEGUN else COMPLETED_FIELDS
    return tuple(path for path in (entry_kind.personal if entry_kind else ())
                 if path.split(".")[0] in names)


def json_number_safe(value):
    """The JSON value as the database hands it back (see _EXPONENT_FLOAT). PostgreSQL's
    jsonb has no -0.0, NaN nor infinity either: it gives back 0.0 and nulls, and an entry
    hashed with them, by a number in a record's fields or in Thulium's JSON, never verified."""
    if isinstance(value, dict):
        return {key: json_number_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_number_safe(item) for item in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer() and abs(value) >= _EXPONENT_FLOAT:
            return int(value)
        return value + 0.0  # -0.0 becomes 0.0
    return value
