"""Personal data in the audit log: kept so that it can be erased, chained only by digest.

A kind names the places of its entries that hold personal values (`EntryKind.personal`:
"sent.phone_number", "sent.record_fields.*", "messages", ...). The hash chain covers a
keyed digest (HMAC-SHA256 under AUDIT_PII_KEY) of each such value, never the value. An
erasure replaces a value by a marker that carries the same digest, so the chain still
proves that nothing else in the entry changed, while an edited value no longer matches.

A digest names its key ("<key id>.<hex>"): after a rotation (AUDIT_PII_RETIRED_KEYS)
older entries are still verified and searched under the key they were made with. The
same keys make the hash chain's links (audit.chain), each under a key of its own derived
from them.
"""

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from portal.phones import keys_ever

_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
# "[erased 2026-12-02 10:15 UTC · GDPR-2026-17 · 1a2b3c4d.<64 hex>]"
_MARKER = re.compile(r"\[erased (?P<when>[^·]+) · (?P<reference>.*) · "
                     r"(?P<digest>[0-9a-f]{8}\.[0-9a-f]{64})\]", re.DOTALL)


KEY_ID_LENGTH = 8  # a digest begins with its key's id: "<key id>.<hex>"


@cache
def _keys(current: str, retired: tuple[str, ...]) -> tuple[str, dict[str, bytes]]:
    keys = {}
    for text in (current, *retired):
        key = text.encode()
        keys[hashlib.sha256(key).hexdigest()[:KEY_ID_LENGTH]] = key
    return hashlib.sha256(current.encode()).hexdigest()[:KEY_ID_LENGTH], keys


# What a digest or a chain link under a key the portal is not given says (verify_audit
# tells it apart).
KEY_UNKNOWN = "is neither AUDIT_PII_KEY nor in AUDIT_PII_RETIRED_KEYS"


def _configured() -> tuple[str, dict[str, bytes]]:
    """The current key's id, and every key (current and retired) by id."""
    return _keys(settings.AUDIT_PII_KEY, tuple(settings.AUDIT_PII_RETIRED_KEYS))


def current_key_id() -> str:
    return _configured()[0]


def key_by_id(key_id: str) -> bytes:
    """The key of that id; raises ImproperlyConfigured for one the portal is not given."""
    keys = _configured()[1]
    if key_id not in keys:
        raise ImproperlyConfigured(f"audit personal-data key {key_id} {KEY_UNKNOWN}")
    return keys[key_id]


def digest(value, key_id: str = "") -> str:
    """The keyed digest of a value, under the given key (the current one by default).

    Raises ImproperlyConfigured for a key id that is neither the current key nor a retired one.
    """
    return _digester(key_id)(value)


@cache
def _digester(key_id: str):
    """A function making digests under one key: the settings are read once, not per value
    (verify_audit makes millions; a change of the keys, as in tests, starts afresh)."""
    key_id = key_id or current_key_id()
    # The key is mixed in once; each value starts from a copy (a third cheaper than anew).
    keyed, prefix = hmac.new(key_by_id(key_id), digestmod=hashlib.sha256), f"{key_id}."

    def make(value) -> str:
        mac = keyed.copy()
        mac.update(_canonical(value).encode())
        return prefix + mac.hexdigest()

    return make


@receiver(setting_changed)
def _keys_changed(*, setting, **_kwargs) -> None:
    if setting in ("AUDIT_PII_KEY", "AUDIT_PII_RETIRED_KEYS"):
        _digester.cache_clear()


def known_key_ids() -> set[str]:
    """The ids of the keys digests can be made and read with: the current and retired ones."""
    return set(_configured()[1])


def digests_under_every_key(value) -> list[str]:
    """The value's digest under the current key and every retired one, for a search."""
    _current, keys = _configured()
    return [digest(value, key_id) for key_id in keys]


def number_digests_ever(key: str) -> list[str]:
    """The digests a number's entries may be found by: under every key, of each key the
    number had (portal.phones.keys_ever), for an erasure."""
    return [term for each in keys_ever(key) for term in digests_under_every_key(each)]


def digesters_under_every_key() -> list:
    """One digest-making function per key, current and retired, for looking up many values."""
    _current, keys = _configured()
    return [_digester(key_id) for key_id in keys]


def marker(*, value_digest: str, when: str, reference: str) -> str:
    """What stands in an erased value's place: when, under which reference, and its digest."""
    return f"[erased {when} · {reference} · {value_digest}]"


def marker_when(at: datetime) -> str:
    """When an erasure was, as its markers say it."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def marker_moment(when: str) -> datetime | None:
    """The moment a marker's `when` names (as `marker_when` wrote it), or None."""
    try:
        return datetime.strptime(when, "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)
    except ValueError:
        return None


def marker_erasure(value) -> tuple[str, str] | None:
    """(when, reference) of the erasure an erasure marker names, or None if the value is
    not one."""
    if isinstance(value, str) and value.startswith("[erased "):
        match = _MARKER.fullmatch(value)
        return (match["when"], match["reference"]) if match else None
    return None


def marker_digest(value) -> str | None:
    """The digest an erasure marker carries, or None if the value is not a marker."""
    if isinstance(value, str) and value.startswith("[erased "):
        match = _MARKER.fullmatch(value)
        return match["digest"] if match else None
    return None


def places(values: dict, paths) -> Iterator[tuple[object, object]]:
    """(container, key) of every non-empty value at the paths ("sent.record_fields.*"); a
    "*" step takes every item of a dict or a list."""
    for path in paths:
        yield from _places_in(values, path.split("."))


def _places_in(container, steps) -> Iterator[tuple[object, object]]:
    step, rest = steps[0], steps[1:]
    if isinstance(container, list) and step == "*":
        keys = range(len(container))
    elif isinstance(container, dict):
        keys = list(container) if step == "*" else [step] if step in container else []
    else:
        return
    for key in keys:
        if rest:
            yield from _places_in(container[key], rest)
        elif container[key] not in (None, "", [], {}):
            yield container, key


def chained_copy(values: dict, paths, key_id: str, *, erased: bool = False) -> dict:
    """The values as the chain covers them: each personal value replaced by its digest, an
    erased entry's markers by the digest they carry.

    Only an erased entry holds markers: a value that merely looks like one, typed into a
    field, is a value like any other, and covered as such (taken for a marker, it made the
    chain cover what it claimed, and verify_audit fail for good).

    Only the dicts and lists on the way to a personal value are copied: verify_audit makes
    this copy of every entry.
    """
    if not paths:
        return values
    make = _digester(key_id)

    def covered(value):
        return marker_digest(value) or make(value)

    return _replaced(values, _tree(paths), covered if erased else make)


@cache
def _tree(paths: tuple[str, ...]) -> dict:
    """The paths as one tree of steps, so that a value is visited once for all of them:
    ("sent.phone_number", "sent.tags.*") -> {"sent": {"phone_number": None, "tags": {"*": None}}}
    (None marks the personal value itself)."""
    tree = {}
    for path in paths:
        *steps, last = path.split(".")
        node = tree
        for step in steps:
            node = node.setdefault(step, {})
        node[last] = None
    return tree


def _replaced(container, tree: dict, replace):
    """The container with the non-empty values the tree leads to replaced, as a copy."""
    if isinstance(container, dict):
        keys = list(container) if "*" in tree else [key for key in tree if key in container]
        copy = dict(container)
    elif isinstance(container, list) and "*" in tree:
        keys, copy = range(len(container)), list(container)
    else:
        return container
    for key in keys:
        subtree = tree[key] if key in tree else tree["*"]
        value = container[key]
        if subtree is not None:
            copy[key] = _replaced(value, subtree, replace)
        elif value not in (None, "", [], {}):
            copy[key] = replace(value)
    return copy


def erase_values(values: dict, paths, *, key_id: str, when: str, reference: str) -> int:
    """Replace the personal values at the paths, none of them a marker yet (values an
    erasure meets for the first time), by markers, in place; returns how many."""
    erased = 0
    for container, key in list(places(values, paths)):
        container[key] = marker(value_digest=digest(container[key], key_id), when=when,
                                reference=reference)
        erased += 1
    return erased
