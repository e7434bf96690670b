"""What the sandbox answers about many records: the batch POST's results, GET records' rows.

Thulium documents the batch statuses (ADDED, ALREADY_EXISTS, FAILED) and says the answer
"lists the numbers, each with a status and the id of the added record", but its current
example is not public: the shapes below follow the older twin's example and are marked
where they are inferred.
"""

import json

from . import rules

# Documented: the fields of a listed record, in the doc's example order.
LISTED_FIELDS = (
    "record_id", "phone_number", "system_status", "status", "status_id", "call_date",
    "create_date", "next_call_date", "agent_name", "agent_login", "last_note", "identifier",
    "order",
)


def batch_answer(records, outcomes, shape, *, left_out=frozenset()):
    """The batch POST's answer: "keyed" by phone number as sent, or a "list" of items
    (or "wrapped": see state.BATCH_SHAPES).

    `outcomes` are `SandboxState.add_records`'s, one per record, in the order sent; the
    records whose numbers are `left_out` get no item (a test's answer missing items).
    """
    told = [(record, _batch_item(*outcome)) for record, outcome in zip(records, outcomes,
                                                                       strict=True)
            if record.get("phone_number") not in left_out]
    if shape == "list":
        # Inferred: the other known shape, a list in the order sent, each item naming
        # its number as sent.
        return [{"phone_number": record.get("phone_number"), **item} for record, item in told]
    answer = {}
    for record, item in told:
        # Inferred: a number sent twice keeps its first result, which says what became of
        # the number; the later one is not in the answer (an object has one value per key).
        answer.setdefault(_phone_key(record.get("phone_number")), item)
    return {"count": len(answer), "result": answer} if shape == "wrapped" else answer


def _batch_item(record_id, errors, duplicated):
    # Documented by the older twin's example: ids are numbers here.
    if not errors:
        return {"record_id": int(record_id), "status": "ADDED"}
    if rules.only_duplicates(errors):
        # Inferred from the same example: ALREADY_EXISTS carries the id of the record held.
        return {"record_id": int(duplicated), "status": "ALREADY_EXISTS"}
    # Inferred: FAILED carries Thulium's usual error items.
    return {"status": "FAILED", "errors": errors}


def _phone_key(phone):
    # Inferred: the key is the number as sent; a number that is not text (an error)
    # is keyed by its JSON text, e.g. "null" when it is missing.
    return phone if isinstance(phone, str) else json.dumps(phone)


def listed_record(record, campaign):
    """One row of GET outbounds/:id/records; documented: empty values are "", ids numbers."""
    status = _status_of(record, campaign)
    # Inferred: the sandbox never calls nor keeps agents' names or notes, so call_date,
    # agent_name and last_note stay "".
    row = {
        **{name: "" for name in LISTED_FIELDS},
        **{name: record[name] for name in LISTED_FIELDS if name in record},
        "record_id": int(record["record_id"]),
        "system_status": status.get("system_status", ""),
        "status": status.get("name", ""),
        "status_id": int(status["status_id"]) if status else "",
    }
    if record.get("id_left_out") == "absent":
        del row["record_id"]
    elif record.get("id_left_out"):
        row["record_id"] = {"empty": "", "null": None}[record["id_left_out"]]
    return row


def _status_of(record, campaign):
    """The campaign status the record was added with, or {} if none was given."""
    wanted = str(record.get("status_id", ""))
    return next((s for s in campaign["statuses"] if str(s["status_id"]) == wanted), {})
