"""Reading the answer of POST batch/outbounds/:id/records: one result per record sent.

Thulium documents the statuses (ADDED, ALREADY_EXISTS, FAILED), not the answer's shape.
Two shapes are known: an object keyed by the phone number as sent (the older twin's
example, values with `status`, `record_id`, maybe `http_status`, `errors` or `message`),
and a list of objects carrying `phone_number`. Whatever the answer leaves unclear about a
record makes it *unknown*: Thulium may hold it, so the caller lists the campaign's records
before sending it again.
"""

from collections import defaultdict, deque
from dataclasses import dataclass

from .errors import error_messages

ADDED, ALREADY_EXISTS, FAILED, UNKNOWN = "added", "already_exists", "failed", "unknown"
_DOCUMENTED = {"ADDED": ADDED, "ALREADY_EXISTS": ALREADY_EXISTS, "FAILED": FAILED}


@dataclass(frozen=True)
class RecordResult:
    """What Thulium said about one record of a batch."""

    status: str  # ADDED, ALREADY_EXISTS, FAILED or UNKNOWN
    record_id: str = ""  # of an added record
    messages: tuple[str, ...] = ()  # Thulium's words about a failed record
    raw: dict | None = None  # the answer's item as it came; None when it had none


def read_results(records: list[dict], body) -> list[RecordResult] | None:
    """One result per record, in the order sent; None when `body` has no known shape."""
    items = _keyed_items(records, body) if isinstance(body, dict) else _listed_items(records, body)
    return None if items is None else [_result(item) for item in items]


def _keyed_items(records, body):
    """The answer's value for each record; a number sent twice has one value, which answers
    the first record sent with it: the later ones stay unknown."""
    if not all(isinstance(value, dict) for value in body.values()):
        return None
    seen = set()
    items = []
    for key in map(_phone_key, records):
        items.append(None if key in seen else body.get(key))
        seen.add(key)
    return items


def _listed_items(records, body):
    """The n-th item naming a number answers the n-th record sent with that number."""
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        return None
    by_phone = defaultdict(deque)
    for item in body:
        by_phone[_phone_key(item)].append(item)
    return [
        by_phone[key].popleft() if by_phone[key] else None for key in map(_phone_key, records)
    ]


def _phone_key(mapping):
    """The phone number as text, whether sent or answered as a string or a number."""
    phone = mapping.get("phone_number")
    if isinstance(phone, str) or (isinstance(phone, int) and not isinstance(phone, bool)):
        return str(phone)
    return None


def _result(item):
    if item is None:
        return RecordResult(UNKNOWN)
    status = item.get("status")
    status = _DOCUMENTED.get(status, UNKNOWN) if isinstance(status, str) else UNKNOWN
    if status == ADDED:
        record_id = item.get("record_id")
        if not isinstance(record_id, str | int) or isinstance(record_id, bool) or record_id == "":
            # Added, but under which id? Only Thulium's records list can tell.
            return RecordResult(UNKNOWN, raw=item)
        return RecordResult(ADDED, str(record_id), raw=item)
    if status == FAILED:
        return RecordResult(FAILED, messages=tuple(_messages(item)), raw=item)
    return RecordResult(status, raw=item)


def _messages(item):
    """Thulium's documented error items, or a lone `message` as the CRM twin may send."""
    if isinstance(item.get("errors"), list):
        return error_messages(item["errors"])
    return [str(item["message"])] if item.get("message") else []
