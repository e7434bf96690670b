"""Thulium's words about a whole batch, kept in each of its records' entries without the
other records' data.

A batch call that fails as a whole (refused, or answered in no known shape) is the outcome
of every record sent in it, and what Thulium answered may name any of them: an answer
keyed by phone number, an error quoting a record's field. An erasure finds a person's data
through the entries about that person, so another record's number or name left in these
words would outlive its erasure. Each entry keeps its own record's data, which is erased
with it.
"""

import re
from collections import defaultdict

from portal.phones import numbers_spelled, phone_key

OTHER_RECORD = "[another record]"
_NOT_DIGITS = re.compile(r"[^0-9+]")
# Shorter values are too often words or indexes of the message itself ("1", "ok").
_SHORTEST = 3


def others_removed(texts: list[str], payloads: list[dict],
                   phone_keys: list[str] | None = None) -> list[list[str]]:
    """For each payload of a batch, the texts as its entry keeps them: the data of every
    other payload (number in any spelling, identifier, field values) replaced.
    `phone_keys` are the payloads' numbers' keys, where the caller has them (an import's
    rows keep theirs)."""
    if not any(texts):
        return [list(texts) for _payload in payloads]
    owners = _owners(payloads, phone_keys)
    marked = [_marks(text, owners) for text in texts]
    return [[_rebuilt(text, marks, own) for text, marks in zip(texts, marked, strict=True)]
            for own in range(len(payloads))]


class _Owners:
    """Which payloads each value and number belongs to, and a pattern finding the values."""

    def __init__(self):
        self.of_value: dict[str, set[int]] = defaultdict(set)
        self.of_number: dict[str, set[int]] = defaultdict(set)
        self.pattern: re.Pattern | None = None


def _owners(payloads: list[dict], phone_keys: list[str] | None) -> _Owners:
    owners = _Owners()
    for index, payload in enumerate(payloads):
        if phone_keys is not None:
            owners.of_number[phone_keys[index]].add(index)
        elif number := payload.get("phone_number"):
            owners.of_number[phone_key(str(number))].add(index)
        for value in _personal_values(payload):
            owners.of_value[value.lower()].add(index)
    if owners.of_value:
        values = sorted(owners.of_value, key=len, reverse=True)  # the longest spelling wins
        owners.pattern = re.compile(
            r"(?<!\w)(?:" + "|".join(map(re.escape, values)) + r")(?!\w)", re.IGNORECASE)
    return owners


def _personal_values(payload: dict) -> set[str]:
    """The texts of a record's data a message may repeat."""
    fields = payload.get("record_fields")
    values = [payload.get("phone_number"), payload.get("identifier"),
              *(fields.values() if isinstance(fields, dict) else ())]
    texts = {str(value).strip() for value in values
             if isinstance(value, str | int | float) and not isinstance(value, bool)}
    return {text for text in texts if len(text) >= _SHORTEST}


def _marks(text: str, owners: _Owners) -> list[tuple[int, int, set[int]]]:
    """The spans of `text` holding a payload's data, each with the payloads it is of (none
    known: of a payload, in a spelling that lost its owner)."""
    if not text:
        return []
    marks = []
    if owners.pattern is not None:
        marks = [(found.start(), found.end(), owners.of_value.get(found.group().lower(), set()))
                 for found in owners.pattern.finditer(text)]
    for at, until, spelling in numbers_spelled(text):
        digits = _NOT_DIGITS.sub("", spelling)
        # Fewer digits are no record's number (an HTTP status), and need no parsing.
        of = owners.of_number.get(phone_key(digits)) if len(digits) >= 6 else None
        if of and not any(start < until and at < end for start, end, _of in marks):
            marks.append((at, until, of))
    return sorted(marks, key=lambda mark: mark[0])


def _rebuilt(text: str, marks, own: int) -> str:
    if not marks:
        return text
    parts, at = [], 0
    for start, end, of in marks:
        if own not in of:
            parts += [text[at:start], OTHER_RECORD]
            at = end
    return "".join(parts) + text[at:]
