"""Adding records to a campaign through Thulium, one by one or in a batch, and checking there
those whose answer was lost: their audit entries, and what the portal knows."""

import datetime
import json
from collections.abc import Collection, Mapping

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from audit.models import AppendOnlyError, Entry, Outcome
from audit.recording import (
    chain_hold,
    entries_begin,
    entries_complete,
    entries_new,
    entries_reserve,
    entry_new,
    error_values,
    outcome_values,
)
from donotcall.lookup import blocked
from portal.db_many import insert_each, update_each
from portal.phones import keys_ever, phone_key
from portal.shown_times import shown_time
from portal.thulium import NewRecord, RecordResult, ThuliumError, get_client
from portal.thulium.batch import ADDED, ALREADY_EXISTS, FAILED
from portal.thulium.kept_bodies import kept_body

from .entries import LISTED_SINCE_CHECKED, RECORD_ADDITION, RECORD_CHECK
from .landing import check_in_flight, cut_off, landed_by
from .models import AddedRecord
from .reconciling import find_all_in_thulium, listing_days
from .scrubbing import others_removed

# The details below are stored in English, shown in the reader's language (audit's
# `detail_words`).
CUT_OFF = gettext_noop("The portal stopped before Thulium's answer was recorded.")
_REFUSED_SAID = {ALREADY_EXISTS: gettext_noop("Thulium answered ALREADY_EXISTS for this record."),
                 FAILED: gettext_noop("Thulium answered FAILED for this record.")}
_UNTOLD = gettext_noop("Thulium's answer to the batch does not tell what became of this "
                       "record.")
# A check that found the number held in Thulium by a record listed with no usable id.
LISTED_WITHOUT_ID = gettext_noop("Thulium listed this number's record without its record_id: "
                                 "it holds the number, which is not sent again.")


class NumberTaken(Exception):
    """Another addition of the number began first (two pages sent at once): nothing was
    written, nor sent."""


class AdditionUnconfirmed(Exception):
    """Thulium's answer was lost (`error`, a ThuliumError that may have applied): it may
    hold the record, which the addition's `entry` page can check."""

    def __init__(self, entry: Entry, error: ThuliumError):
        super().__init__(error.detail)
        self.entry, self.error = entry, error


class NumberListed(Exception):
    """The number was put on the do-not-call list after the form checked it: its begun
    addition was completed as not sent."""


def record_add(*, campaign, payload: dict, actor, language: str | None = None) -> Entry:
    """Send one record to Thulium and record the attempt; raises ThuliumError on failure,
    AdditionUnconfirmed when its answer was lost, NumberTaken if the portal knows the
    number in the campaign already, NumberListed if it is on the do-not-call list (the form
    checked both, but another page may have begun adding it, or opted it out, since).

    Returns the entry, succeeded; or, for a call that outlived its longest time, taken by
    the worker for a cut-off page's and checked in Thulium (records.unanswered), as that
    check left it, whether Thulium then answered or failed: its outcome stands.
    """
    (entry,) = record_add_begin_all(campaign=campaign, payloads=[payload], actor=actor,
                                    taken_refused=True)
    if blocked(campaign, [phone_key(payload["phone_number"])]):
        record_add_complete_all([(entry, outcome_values(outcome=Outcome.FAILED,
                                                        detail=LISTED_SINCE_CHECKED))])
        raise NumberListed
    try:
        new = record_add_post(entry, language=language)
    except ThuliumError as error:
        if not _stored_unless_checked_meanwhile(entry, error_values(error)):
            # Thulium's late error is no truer than a late answer: the worker's check stands,
            # and its entry is what the user is shown.
            return entry
        if error.may_have_applied:
            raise AdditionUnconfirmed(entry, error) from error
        raise
    _stored_unless_checked_meanwhile(entry, added_values(new.record_id,
                                                         http_status=new.http_status))
    return entry


def _stored_unless_checked_meanwhile(entry: Entry, values: dict) -> bool:
    """Store a page's outcome and return True, unless the worker completed its entry
    meanwhile: the entry is then read as the worker left it, and nothing of this outcome is
    stored."""
    try:
        record_add_complete_all([(entry, values)])
    except AppendOnlyError:
        entry.refresh_from_db()
        return False
    return True


def record_add_begin_all(*, campaign, payloads: list[dict], actor, own_rows=None,
                         phone_keys: list[str] | None = None, taken_refused: bool = False,
                         **fields) -> list[Entry]:
    """The pending entries of several sends, and the numbers marked as being sent.

    Split from the sending so that a bulk import can write a batch of them with its own
    bookkeeping, in one transaction, before its worker threads send them: `own_rows`, given
    the entries, writes the caller's rows that refer to them. A number sent again (after
    an unanswered send) keeps what the portal knew of it, pointing at the new entry.
    Everything but the entries is written before the chain's head is taken (see
    `entries_reserve`). `phone_keys` are the numbers' canonical keys, when the caller keeps
    them (an import's rows do). With `taken_refused`, a number the portal knows already
    raises NumberTaken instead, and nothing is written.
    """
    entries = entries_new(kind=RECORD_ADDITION.slug, actor=actor, campaign=campaign,
                          sents=payloads, **fields)
    # A key the caller lacks (an empty one too) is made from the number.
    phone_keys = [key or phone_key(payload["phone_number"])
                  for key, payload in zip(phone_keys or [""] * len(payloads), payloads,
                                          strict=True)]
    with transaction.atomic():
        entries_reserve(entries, phone_keys=phone_keys)
        # A number known already (sent before, unanswered) keeps its status; where taken
        # numbers are refused, it is not written at all, which the unique index decides
        # also for two pages at once: the second waits for the first, then writes nothing.
        marked = insert_each(
            AddedRecord,
            columns=["campaign_id", "phone_key", "identifier", "record_id", "entry_id", "status",
                     "created_at"],
            # One row a number, the last entry's: one statement may not upsert a row twice.
            rows=list({key: (campaign.pk, key, entry.sent.get("identifier", ""), "", entry.pk,
                             AddedRecord.Status.SENDING, entry.created_at)
                       for entry, key in zip(entries, phone_keys, strict=True)}.values()),
            unique=["campaign_id", "phone_key"], update=[] if taken_refused else ["entry_id"],
            returning=["phone_key"] if taken_refused else [],
        )
        if taken_refused and len(marked) < len(set(phone_keys)):
            raise NumberTaken
        if own_rows is not None:
            own_rows(entries)
        entries_begin(entries)
    return entries


def record_add_post(entry: Entry, *, language: str | None = None) -> NewRecord:
    """POST a begun addition to Thulium: the new record's id and the answer's status;
    raises ThuliumError.

    Completing the entry is left to the caller: a bulk import stores a batch of outcomes
    together with its rows' states.
    """
    return get_client(language).add_record(entry.campaign.thulium_id, entry.sent)


def record_add_post_batch(entries: list[Entry], *, language: str | None = None
                          ) -> list[RecordResult]:
    """POST begun additions to one campaign in one batch call: a result per entry, in order;
    raises ThuliumError when the call as a whole fails (see ThuliumClient.add_records).

    Completing the entries is left to the caller, as for `record_add_post`; each takes its
    result's `batch_values`.
    """
    return get_client(language).add_records(entries[0].campaign.thulium_id,
                                            [entry.sent for entry in entries])


def batch_values(result: RecordResult) -> dict:
    """The outcome of one record of a batch call Thulium answered.

    Thulium's status is kept in `results.batch_status`; an item that does not tell what
    became of the record leaves the outcome unknown, with the item kept in the detail.
    """
    item = result.raw or {}
    status = item.get("http_status") if type(item.get("http_status")) is int else 200
    if result.status == ADDED:
        return outcome_values(outcome=Outcome.SUCCEEDED, http_status=status,
                              results={"record_id": result.record_id, "batch_status": "ADDED"})
    if result.status in (ALREADY_EXISTS, FAILED):
        said = result.status.upper()
        return outcome_values(
            outcome=Outcome.REFUSED, http_status=status, messages=result.messages,
            results={"batch_status": said},
            detail="" if result.messages else _REFUSED_SAID[result.status],
        )
    answer = kept_body(json.dumps(result.raw, ensure_ascii=False),
                       user=settings.THULIUM_API_USER,
                       password=settings.THULIUM_API_PASSWORD) if result.raw else ""
    return outcome_values(
        outcome=Outcome.UNKNOWN, http_status=status,
        detail="\n".join([_UNTOLD, answer]).strip(),
    )


def batch_failure_values(error: ThuliumError, entries: list[Entry],
                         phone_keys: list[str] | None = None) -> list[dict]:
    """The outcome of a batch call that failed as a whole, for each of its entries in turn:
    Thulium's words kept in each without the other records' data (records.scrubbing;
    `phone_keys` as it takes them)."""
    values = error_values(error)
    texts = [*values["messages"], values["detail"]]
    return [{**values, "messages": words[:-1], "detail": words[-1], "results": {}}
            for words in others_removed(texts, [entry.sent for entry in entries], phone_keys)]


def added_values(record_id: str, *, http_status: int) -> dict:
    """The outcome of a send Thulium accepted (see audit.recording.outcome_values)."""
    return outcome_values(outcome=Outcome.SUCCEEDED, http_status=http_status,
                          results={"record_id": record_id})


def record_add_complete_all(completions: list[tuple[Entry, dict]], *,
                            phone_keys: Mapping[int, str] | None = None) -> None:
    """Store sends' outcomes in their entries and in what the portal knows, together.

    A refused or failed first send leaves no trace of the number; after an unanswered
    send, Thulium may hold it, so it stays known as unknown. By number, not by entry: a
    resend's entry replaced the first one's, and the first one's outcome must still count.
    A few statements for the lot, whatever its size: an import stores hundreds at once.
    `phone_keys` are the numbers' canonical keys by entry id, where the caller keeps them
    (an import's rows do): parsing each number again took a thirteenth of an import's
    busiest thread.
    """
    known = phone_keys or {}
    added, unknown, failed = {}, {}, set()  # by (campaign, number's key)
    for entry, values in completions:
        key = (entry.campaign_id,
               known.get(entry.pk) or phone_key(entry.sent["phone_number"]))
        outcome = values["outcome"]
        if outcome == Outcome.SUCCEEDED:
            added[key] = (entry, values["results"].get("record_id", ""))
            unknown.pop(key, None)
        elif outcome == Outcome.UNKNOWN:
            unknown[key] = (entry, "")
            added.pop(key, None)
        else:
            failed.add(key)
    # The added records before the chain's head (see audit.recording.entries_reserve).
    with transaction.atomic():
        stored = update_each(AddedRecord, keys=["campaign_id", "phone_key"],
                             columns=["status", "record_id"],
                             rows=[(AddedRecord.Status.ADDED, record_id, campaign_id, key)
                                   for (campaign_id, key), (_entry, record_id) in added.items()])
        written = _known_again(added, AddedRecord.Status.ADDED) if stored < len(added) else []
        for campaign_id, keys in _by_campaign(unknown).items():
            AddedRecord.objects.filter(campaign_id=campaign_id, phone_key__in=keys).update(
                status=AddedRecord.Status.UNKNOWN)
        written += _known_again(unknown, AddedRecord.Status.UNKNOWN)
        for campaign_id, keys in _by_campaign(failed - unknown.keys() - added.keys()).items():
            AddedRecord.objects.filter(campaign_id=campaign_id, phone_key__in=keys,
                                       status=AddedRecord.Status.SENDING).delete()
        entries_complete(completions)
        # Holding the chain's head now, which an erasure holds while it erases: one that
        # erased these numbers meanwhile (it found no row to delete) has them forgotten.
        erased = Entry.objects.filter(pk__in=written, erased_at__isnull=False)
        AddedRecord.objects.filter(entry_id__in=erased.values("pk")).delete()


def _known_again(sends: dict, status: str) -> list[int]:
    """Write again the numbers of these sends (by key: their entry, Thulium's id) that the
    portal no longer knows: another send of the same number (a second import, a page)
    began meanwhile, pointing the number at its own entry, and its refusal took the
    number away, when this one had landed or may have. Forgotten, the number was offered
    to send again as new. Not a number erased since (its entry says so), which is gone on
    purpose. Returns the entries whose number was written again."""
    if not sends:
        return []
    there = set()
    for campaign_id, keys in _by_campaign(sends).items():
        there.update((campaign_id, key) for key in AddedRecord.objects.filter(
            campaign_id=campaign_id, phone_key__in=keys).values_list("phone_key", flat=True))
    missing = {key: send for key, send in sends.items() if key not in there}
    erased = set(Entry.objects.filter(pk__in=[entry.pk for entry, _id in missing.values()],
                                      erased_at__isnull=False).values_list("pk", flat=True))
    rows = [(campaign_id, key, entry.sent.get("identifier", ""), record_id, entry.pk, status,
             entry.created_at)
            for (campaign_id, key), (entry, record_id) in missing.items()
            if entry.pk not in erased]
    insert_each(
        AddedRecord,
        columns=["campaign_id", "phone_key", "identifier", "record_id", "entry_id", "status",
                 "created_at"],
        rows=rows, unique=["campaign_id", "phone_key"], update=["status", "record_id"])
    return [row[4] for row in rows]


def _by_campaign(keys) -> dict[int, list[str]]:
    grouped = {}
    for campaign_id, key in keys:
        grouped.setdefault(campaign_id, []).append(key)
    return grouped


def records_added_earlier(entries: list[Entry]) -> None:
    """Thulium refused a resend as a duplicate: the unanswered first send had landed.

    Known as added again even where a check had not found it (and so forgotten it).
    """
    AddedRecord.objects.bulk_create(
        [AddedRecord(campaign_id=entry.campaign_id, phone_key=phone_key(entry.sent["phone_number"]),
                     identifier=entry.sent.get("identifier", ""), entry=entry,
                     status=AddedRecord.Status.ADDED, created_at=entry.created_at)
         for entry in entries],
        update_conflicts=True, unique_fields=["campaign", "phone_key"],
        update_fields=["entry", "status"],
    )


def records_hold(key: str) -> None:
    """Lock what the portal knows of the number, for an erasure (see
    audit.erasure.register_eraser)."""
    list(AddedRecord.objects.filter(phone_key__in=keys_ever(key)).select_for_update()
         .values_list("pk"))


def records_held(key: str) -> int:
    """How many of the records the portal added have the number (for an erasure's page)."""
    return AddedRecord.objects.filter(phone_key__in=keys_ever(key)).count()


def records_forget(key: str, erasure) -> int:
    """Forget that the portal added the number (an erasure); returns how many it held."""
    deleted, _by_model = AddedRecord.objects.filter(phone_key__in=keys_ever(key)).delete()
    return deleted


class RecordCheckRefused(Exception):
    """The entry is not an unanswered addition waiting to be checked; the text says why."""


def record_to_check(entry: Entry) -> AddedRecord:
    """What the portal knows of the number an unanswered addition sent, still unknown (or
    being sent, by a request cut off); raises RecordCheckRefused."""
    if entry.kind != RECORD_ADDITION.slug:
        raise RecordCheckRefused(_("Only a record addition can be checked in Thulium."))
    if entry.outcome != Outcome.UNKNOWN and not cut_off(entry):
        raise RecordCheckRefused(
            _("Only an addition whose outcome is unknown can be checked in Thulium."))
    # Only the latest send of the number: a resend took the row over.
    record = AddedRecord.objects.filter(
        entry=entry, status__in=(AddedRecord.Status.UNKNOWN, AddedRecord.Status.SENDING),
    ).first()
    if record is None:
        # A page opened before an erasure of the number still offers the check.
        raise _number_erased() if entry.erased_at is not None else _nothing_left()
    return record


def _nothing_left() -> RecordCheckRefused:
    return RecordCheckRefused(_("There is nothing left to check: this addition's number "
                                "was checked already or sent again."))


def _number_erased() -> RecordCheckRefused:
    return RecordCheckRefused(_("There is nothing left to check: this addition's number "
                                "was erased."))


def _being_checked() -> RecordCheckRefused:
    return RecordCheckRefused(_("This addition is being checked in Thulium already: its "
                                "answer shows here in a moment."))


def _check_under_way(addition: Entry) -> bool:
    """Whether a check of the addition (another page's, pressed twice at once) may still be
    waiting for Thulium; one cut off stops no other."""
    return any(check_in_flight(check) for check in Entry.objects.filter(
        related=addition, kind=RECORD_CHECK.slug, outcome=Outcome.PENDING))


def record_check(entry: Entry, *, actor, language: str | None = None) -> Entry:
    """Ask Thulium whether it holds the record an unanswered addition sent: the check's entry.

    Found, the number is known as added, with Thulium's id (or none, when Thulium lists
    none: see `record_checks_run`); not found, the portal forgets it, so that it may be
    sent again (nothing is resent here). The addition's own entry is left as it is: the
    check names it as its related entry. Raises RecordCheckRefused when there is nothing
    to check, ThuliumError when Thulium fails (the check's entry then says so, and nothing
    else changes).
    """
    record = record_to_check(entry)
    if (landing := landed_by(entry)) > timezone.now():
        # Not found now, it might still land: the number would be freed, and sent twice.
        raise RecordCheckRefused(_(
            "Thulium may still be adding this record: its answer was lost only a moment "
            "ago. Check it after %(when)s.") % {"when": shown_time(landing)})
    return record_check_ask(entry, record, until=landing, actor=actor, language=language)


def record_check_ask(entry: Entry, record: AddedRecord, *, until: datetime.datetime, actor,
                     actor_username: str = "", cut_off_only: bool = False,
                     language: str | None = None) -> Entry:
    """`record_check` once the addition could no longer land in Thulium (`until`): also the
    worker's, for an addition whose page was cut off (records.unanswered), which wants it
    `cut_off_only`: pending, or unknown as cut off by an earlier check Thulium gave no
    answer to; an addition its process completed meanwhile is then refused too."""
    with transaction.atomic():
        # The number's record, then the chain's head, as an erasure takes them: read again
        # under them, an erasure that came first has left nothing to check (the check was
        # begun from the page's copy of the number, and wrote it back), and one that comes
        # later erases the check too.
        held = AddedRecord.objects.select_for_update().filter(
            pk=record.pk, entry=entry,
            status__in=(AddedRecord.Status.UNKNOWN, AddedRecord.Status.SENDING)).exists()
        chain_hold()
        entry = Entry.objects.get(pk=entry.pk)
        if entry.erased_at is not None:
            raise _number_erased()
        if not held or (cut_off_only and entry.outcome != Outcome.PENDING
                        and entry.detail != CUT_OFF):
            raise _nothing_left()
        # Under the record's lock, which a check pressed at the same moment waits for: it
        # finds this one's pending entry, and Thulium is asked once.
        if _check_under_way(entry):
            raise _being_checked()
        if entry.outcome == Outcome.PENDING:
            # Cut off before the answer was recorded: unanswered, as a lost answer is.
            try:
                record_add_complete_all([(entry, outcome_values(outcome=Outcome.UNKNOWN,
                                                                detail=CUT_OFF))])
            except AppendOnlyError:  # another check took it first
                raise _nothing_left() from None
        # The row keeps the time of the number's first send (a resend only takes it over),
        # and any of its sends may be the one Thulium holds; the entry's, the latest, could
        # land until `until` (no check is made before it).
        (check,) = record_checks_begin([entry], since=record.created_at, until=until,
                                       actor=actor, actor_username=actor_username)
    record_checks_run([check], since=record.created_at, until=until, language=language)
    return check


def record_checks_begin(additions: list[Entry], *, since: datetime.datetime,
                        until: datetime.datetime, actor, **fields) -> list[Entry]:
    """The pending entries of checks in Thulium of unanswered additions to one campaign, one
    each, saying what will be asked; `since` is when the earliest of them was sent, `until`
    the latest moment any of them could have landed in Thulium.

    Split from asking (record_checks_run) so that an import links them to its rows in the
    same transaction.
    """
    first_day, day_to = listing_days(since, until, now=timezone.now())  # as asked
    checks = [
        entry_new(kind=RECORD_CHECK.slug, actor=actor, campaign=addition.campaign,
                  related=addition, sent={
                      "campaign": addition.campaign.thulium_id,
                      "phone_number": addition.sent["phone_number"],
                      **({"identifier": addition.sent["identifier"]}
                         if addition.sent.get("identifier") else {}),
                      "create_date_from": first_day.isoformat(),
                      **({"create_date_to": day_to.isoformat()} if day_to else {})},
                  **fields)
        for addition in additions
    ]
    entries_begin(checks)
    return checks


def record_checks_run(checks: list[Entry], *, since: datetime.datetime,
                      until: datetime.datetime, applied_before: Collection[str] = (),
                      language: str | None = None) -> None:
    """Ask Thulium, in one listing, what begun checks look for, and complete their entries
    (`results.found`, `results.record_id`); raises ThuliumError (the checks' entries then
    say so, nothing else changes).

    A number found is known as added, with Thulium's id; one not found is forgotten, so
    that it may be sent again. One Thulium lists without a usable record_id is held there,
    so it must never be sent again, and the portal has no id of it to keep: it is known as
    added with no id, as after a resend Thulium refused as a duplicate
    (`records_added_earlier`), and its check's entry says that Thulium listed it without
    one. Kept unknown instead, it would be checked again and again, finding the same.
    `until`, `applied_before`: see `find_all_in_thulium`.
    """
    campaign = checks[0].campaign
    try:
        found = find_all_in_thulium(campaign, [check.sent for check in checks], since,
                                    until=until, applied_before=applied_before,
                                    days=_asked_days(checks[0]), language=language)
    except ThuliumError as error:
        entries_complete([(check, error_values(error)) for check in checks])
        raise
    with transaction.atomic():
        # The added records before the chain's head (see audit.recording.entries_reserve).
        for check, record_id in zip(checks, found, strict=True):
            unknown = AddedRecord.objects.filter(
                campaign=campaign, phone_key=phone_key(check.sent["phone_number"]),
                status=AddedRecord.Status.UNKNOWN)
            if record_id is None:
                unknown.delete()
            else:
                unknown.update(status=AddedRecord.Status.ADDED, record_id=record_id)
        entries_complete([(check, _check_values(record_id))
                          for check, record_id in zip(checks, found, strict=True)])


def _asked_days(check: Entry) -> tuple[datetime.date, datetime.date | None]:
    """The days a begun check's entry says the listing asks for: what is asked is that."""
    day_to = check.sent.get("create_date_to")
    return (datetime.date.fromisoformat(check.sent["create_date_from"]),
            datetime.date.fromisoformat(day_to) if day_to else None)


def _check_values(record_id: str | None) -> dict:
    """The outcome of a check that listed the record with this id, without one (""), or
    not at all (None)."""
    return outcome_values(
        outcome=Outcome.SUCCEEDED, http_status=200,
        results={"found": record_id is not None, **({"record_id": record_id} if record_id else {})},
        detail=LISTED_WITHOUT_ID if record_id == "" else "")
