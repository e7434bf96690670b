"""Adding a record to a campaign through Thulium, with its audit row."""

from django.db import transaction

from portal.auditing import Outcome
from portal.thulium import ThuliumError, get_client

from .models import RecordAddition
from .phones import phone_key


def record_add(*, campaign, payload: dict, actor, language: str | None = None,
               on_begin=None, **audit_fields) -> RecordAddition:
    """Send one record to Thulium and record the attempt; raises ThuliumError on failure.

    `on_begin(addition)` runs in the transaction that commits the pending audit row,
    before Thulium is called: a bulk import links its row to the attempt there.
    """
    with transaction.atomic():
        addition = RecordAddition.begin(
            actor=actor, campaign=campaign, sent=payload,
            phone_number=payload["phone_number"], phone_key=phone_key(payload["phone_number"]),
            identifier=payload.get("identifier", ""), **audit_fields,
        )
        if on_begin is not None:
            on_begin(addition)
    try:
        record_id = get_client(language).add_record(campaign.thulium_id, payload)
    except ThuliumError as error:
        addition.complete_with_error(error)
        raise
    addition.complete(outcome=Outcome.SUCCEEDED, http_status=200, record_id=record_id)
    return addition
