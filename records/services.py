"""Adding a record to a campaign through Thulium, with its audit row."""

from portal.auditing import Outcome
from portal.thulium import ThuliumError, get_client

from .models import RecordAddition
from .phones import phone_key


def record_add(*, campaign, payload: dict, actor, language: str | None = None,
               **audit_fields) -> RecordAddition:
    """Send one record to Thulium and record the attempt; raises ThuliumError on failure."""
    addition = record_add_begin(campaign=campaign, payload=payload, actor=actor, **audit_fields)
    return record_add_send(addition, language=language)


def record_add_begin(*, campaign, payload: dict, actor, **audit_fields) -> RecordAddition:
    """The attempt's pending audit row, to be committed before record_add_send."""
    (addition,) = record_add_begin_all(campaign=campaign, payloads=[payload], actor=actor,
                                       **audit_fields)
    return addition


def record_add_begin_all(*, campaign, payloads: list[dict], actor,
                         **audit_fields) -> list[RecordAddition]:
    """The pending audit rows of several attempts, written together.

    Split from the sending so that a bulk import can write a batch of them with its own
    bookkeeping, in one transaction, before its worker threads send them.
    """
    additions = [
        RecordAddition.pending(
            actor=actor, campaign=campaign, sent=payload,
            phone_number=payload["phone_number"], phone_key=phone_key(payload["phone_number"]),
            identifier=payload.get("identifier", ""), **audit_fields,
        )
        for payload in payloads
    ]
    RecordAddition.begin_all(additions)
    return additions


def record_add_send(addition: RecordAddition, *, language: str | None = None) -> RecordAddition:
    """POST a begun addition to Thulium and complete its audit row; raises ThuliumError."""
    try:
        record_id = record_add_post(addition, language=language)
    except ThuliumError as error:
        addition.complete_with_error(error)
        raise
    addition.complete(outcome=Outcome.SUCCEEDED, http_status=200, record_id=record_id)
    return addition


def record_add_post(addition: RecordAddition, *, language: str | None = None) -> str:
    """POST a begun addition to Thulium: the new record's id; raises ThuliumError.

    Completing the audit row is left to the caller: a bulk import stores a batch of
    outcomes together with its rows' states.
    """
    return get_client(language).add_record(addition.campaign.thulium_id, addition.sent)
