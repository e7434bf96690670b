"""Adding a record to a campaign through Thulium, and checking there one whose answer was
lost: their audit entries, and what the portal knows."""

from django.db import transaction
from django.utils.translation import gettext as _

from audit.models import Entry, Outcome
from audit.recording import (
    entries_begin,
    entries_complete,
    entry_begin,
    entry_complete,
    entry_fail,
    entry_new,
    error_values,
    outcome_values,
)
from portal.phones import phone_key
from portal.thulium import ThuliumError, get_client
from portal.thulium.dates import thulium_day

from .entries import RECORD_ADDITION, RECORD_CHECK
from .models import AddedRecord
from .reconciling import find_in_thulium


def record_add(*, campaign, payload: dict, actor, language: str | None = None) -> Entry:
    """Send one record to Thulium and record the attempt; raises ThuliumError on failure."""
    (entry,) = record_add_begin_all(campaign=campaign, payloads=[payload], actor=actor)
    try:
        record_id = record_add_post(entry, language=language)
    except ThuliumError as error:
        record_add_complete_all([(entry, error_values(error))])
        raise
    record_add_complete_all([(entry, added_values(record_id))])
    return entry


def record_add_begin_all(*, campaign, payloads: list[dict], actor, **fields) -> list[Entry]:
    """The pending entries of several sends, and the numbers marked as being sent.

    Split from the sending so that a bulk import can write a batch of them with its own
    bookkeeping, in one transaction, before its worker threads send them. A number sent
    again (after an unanswered send) keeps what the portal knew of it, pointing at the
    new entry.
    """
    entries = [entry_new(kind=RECORD_ADDITION.slug, actor=actor, campaign=campaign, sent=payload,
                         **fields) for payload in payloads]
    with transaction.atomic():
        entries_begin(entries)
        # A number known already (sent before, unanswered) keeps its status.
        AddedRecord.objects.bulk_create(
            [AddedRecord(campaign=campaign, phone_key=phone_key(entry.sent["phone_number"]),
                         identifier=entry.sent.get("identifier", ""), entry=entry,
                         status=AddedRecord.Status.SENDING, created_at=entry.created_at)
             for entry in entries],
            update_conflicts=True, unique_fields=["campaign", "phone_key"],
            update_fields=["entry"],
        )
    return entries


def record_add_post(entry: Entry, *, language: str | None = None) -> str:
    """POST a begun addition to Thulium: the new record's id; raises ThuliumError.

    Completing the entry is left to the caller: a bulk import stores a batch of outcomes
    together with its rows' states.
    """
    return get_client(language).add_record(entry.campaign.thulium_id, entry.sent)


def added_values(record_id: str) -> dict:
    """The outcome of a send Thulium accepted (see audit.recording.outcome_values)."""
    return outcome_values(outcome=Outcome.SUCCEEDED, http_status=200,
                          results={"record_id": record_id})


def record_add_complete_all(completions: list[tuple[Entry, dict]]) -> None:
    """Store sends' outcomes in their entries and in what the portal knows, together.

    A refused or failed first send leaves no trace of the number; after an unanswered
    send, Thulium may hold it, so it stays known as unknown.
    """
    with transaction.atomic():
        entries_complete(completions)
        for entry, _values in completions:
            # By number, not by entry: a resend's entry replaced the first one's, and the
            # first one's outcome must still count.
            records = AddedRecord.objects.filter(
                campaign_id=entry.campaign_id, phone_key=phone_key(entry.sent["phone_number"]))
            if entry.outcome == Outcome.SUCCEEDED:
                records.update(status=AddedRecord.Status.ADDED,
                               record_id=entry.results.get("record_id", ""))
            elif entry.outcome == Outcome.UNKNOWN:
                records.update(status=AddedRecord.Status.UNKNOWN)
            else:
                records.filter(status=AddedRecord.Status.SENDING).delete()


def records_added_earlier(entries: list[Entry]) -> None:
    """Thulium refused a resend as a duplicate: the unanswered first send had landed."""
    AddedRecord.objects.filter(entry__in=entries).update(status=AddedRecord.Status.ADDED)


def records_forget(key: str, erasure) -> int:
    """Forget that the portal added the number (an erasure); returns how many it held."""
    deleted, _by_model = AddedRecord.objects.filter(phone_key=key).delete()
    return deleted


class RecordCheckRefused(Exception):
    """The entry is not an unanswered addition waiting to be checked; the text says why."""


def record_to_check(entry: Entry) -> AddedRecord:
    """What the portal knows of the number an unanswered addition sent, still unknown;
    raises RecordCheckRefused."""
    if entry.kind != RECORD_ADDITION.slug:
        raise RecordCheckRefused(_("Only a record addition can be checked in Thulium."))
    if entry.outcome != Outcome.UNKNOWN:
        raise RecordCheckRefused(
            _("Only an addition whose outcome is unknown can be checked in Thulium."))
    # Only the latest send of the number: a resend took the row over.
    record = AddedRecord.objects.filter(entry=entry, status=AddedRecord.Status.UNKNOWN).first()
    if record is None:
        raise RecordCheckRefused(_("There is nothing left to check: this addition's number "
                                   "was checked already or sent again."))
    return record


def record_check(entry: Entry, *, actor, language: str | None = None) -> Entry:
    """Ask Thulium whether it holds the record an unanswered addition sent: the check's entry.

    Found, the number is known as added, with Thulium's id; not found, the portal forgets
    it, so that it may be sent again (nothing is resent here). The addition's own entry
    is left as it is: the check names it as its related entry. Raises RecordCheckRefused
    when there is nothing to check, ThuliumError when Thulium fails (the check's entry
    then says so, and nothing else changes).
    """
    record = record_to_check(entry)
    # The row keeps the time of the number's first send (a resend only takes it over), and
    # any of its sends may be the one Thulium holds.
    sent_on = thulium_day(record.created_at)
    asked = {"campaign": entry.campaign.thulium_id, "phone_number": entry.sent["phone_number"],
             **({"identifier": entry.sent["identifier"]} if entry.sent.get("identifier") else {}),
             "create_date_from": sent_on.isoformat()}
    check = entry_begin(kind=RECORD_CHECK.slug, actor=actor, campaign=entry.campaign,
                        sent=asked, related=entry)
    try:
        record_id = find_in_thulium(entry.campaign, entry.sent, sent_on, language=language)
    except ThuliumError as error:
        entry_fail(check, error)
        raise
    found = {"found": True, "record_id": record_id} if record_id else {"found": False}
    with transaction.atomic():
        entry_complete(check, outcome=Outcome.SUCCEEDED, http_status=200, results=found)
        unknown = AddedRecord.objects.filter(pk=record.pk, status=AddedRecord.Status.UNKNOWN)
        if record_id:
            unknown.update(status=AddedRecord.Status.ADDED, record_id=record_id)
        else:
            unknown.delete()
    return check
