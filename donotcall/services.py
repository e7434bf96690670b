"""Changing the do-not-call list: each change and its audit entry commit together."""

import datetime
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from audit.models import Entry, Outcome
from audit.personal import digest, digests_under_every_key, number_digests_ever
from audit.recording import (
    WORKER,
    entries_begin,
    entries_complete,
    entries_reserve,
    entry_new,
    entry_numbers_add,
    outcome_values,
)
from portal.db_many import IDS_AMONG, ids_given, insert_each
from portal.phones import phone_key

from .entries import (
    DONOTCALL_ADDITION,
    DONOTCALL_REMOVAL,
    DONOTCALL_UPLOAD,
    EXPIRED_LONG_AGO,
    RENEWED,
)
from .lookup import listed
from .models import Suppression


class AlreadySuppressed(Exception):
    """The number is on the list for this scope already; `suppression` is that entry."""

    def __init__(self, suppression: Suppression):
        super().__init__(str(suppression))
        self.suppression = suppression


def suppression_existing(key: str, campaign) -> Suppression | None:
    """The list's entry for the number in exactly this scope, expired or not, or None."""
    return Suppression.objects.filter(digest__in=digests_under_every_key(key),
                                      campaign=campaign).first()


def suppression_add(*, key: str, campaign, reason: str, note: str = "", source: str,
                    expires_on: datetime.date | None = None, actor,
                    source_entry=None) -> Suppression:
    """Put one number (its canonical key) on the list, in place of an expired entry for the
    same scope if there is one; raises AlreadySuppressed if a current one is there.

    The entry found is read again under its lock (`_held`): one a colleague was taking off
    meanwhile is gone, and the number is listed anew, where the officer was told it was on
    the list already and it ended off it."""
    try:
        with transaction.atomic():
            existing = suppression_existing(key, campaign)
            held = _held([existing.pk] if existing else [])
            if held and not held[0].is_expired:
                raise AlreadySuppressed(held[0])
            (suppression,) = suppressions_add_all(
                keys=[key], campaign=campaign, reason=reason, note=note, source=source,
                expires_on=expires_on, actor=actor, source_entry=source_entry,
                replaced=_make_way(held))
    except IntegrityError:  # the same entry, committed by someone else meanwhile
        raise AlreadySuppressed(suppression_existing(key, campaign)) from None
    return suppression


def suppressions_add_all(*, keys: list[str], campaign, reason: str, note: str = "",
                         source: str, expires_on=None, actor, source_entry=None,
                         details=None, replaced=()) -> list[Suppression]:
    """Put numbers not on the list for this scope yet on it, one audit entry each, after
    the removal entries of the expired entries they `replaced` (see `_make_way`).

    The rows are written before the chain's head is taken for the entries, as every
    audited writer does (audit.recording.entries_reserve): an opt-out that took the head
    first, then wrote its row, deadlocked with an addition of the same number.
    """
    suppressions = [
        Suppression(digest=digest(key), phone_key=key, campaign=campaign, reason=reason,
                    note=note, source=source, source_entry=source_entry, added_by=actor,
                    added_by_username=actor.get_username(), expires_on=expires_on)
        for key in keys
    ]
    with transaction.atomic():
        Suppression.objects.bulk_create(suppressions)
        _record([*_entries(DONOTCALL_REMOVAL.slug, replaced, actor=actor, reason=RENEWED),
                 *_entries(DONOTCALL_ADDITION.slug, suppressions, actor=actor,
                           details=details)])
    return suppressions


def suppression_remove(*, suppression: Suppression, reason: str, actor) -> bool:
    """Take a number off the list, with the reason the user gave; False if it was taken
    off already (two pages at once). The entry is read again under its lock, which an
    erasure takes too (`suppressions_hold`): an erasure that came first has left it no
    number to write into the removal's audit entry."""
    with transaction.atomic():
        current = (Suppression.objects.select_for_update(of=("self",))
                   .select_related("campaign").filter(pk=suppression.pk).first())
        if current is None:
            return False
        _record(_entries(DONOTCALL_REMOVAL.slug, [current], actor=actor, reason=reason))
        current.delete()
    return True


# Entries deleted in one transaction of the clearing, each with its removal entry: the
# chain's head is held for one chunk's entries.
CLEAR_CHUNK = 1000


def suppressions_clear_expired(*, now: datetime.datetime | None = None) -> int:
    """Delete the entries whose last day passed more than DONOTCALL_KEEP_DAYS days before
    `now` (0: none), each with a removal entry made by the worker; returns how many.

    Expired, an entry blocks nothing, but was shown and exported with its number and note
    (often a name) for good. A chunk at a time, each its own transaction.
    """
    if settings.DONOTCALL_KEEP_DAYS <= 0:
        return 0
    last_day_before = (timezone.localdate(now)
                       - datetime.timedelta(days=settings.DONOTCALL_KEEP_DAYS))
    deleted = 0
    while cleared := _chunk_clear(last_day_before):
        deleted += cleared
    return deleted


def _chunk_clear(last_day_before: datetime.date) -> int:
    """Delete a chunk of the entries whose last day was before `last_day_before`: how many.

    Found by their end (the index `suppression_expiry`), then locked in the order an
    erasure and a renewal lock them (`_held`), and read again: one renewed or erased
    meanwhile is deleted as it is now, or not at all.
    """
    old = Suppression.objects.filter(expires_on__lt=last_day_before)
    found = list(old.order_by("expires_on", "pk").values_list("pk", flat=True)[:CLEAR_CHUNK])
    if not found:
        return 0
    with transaction.atomic():
        held = list(old.select_for_update(of=("self",)).select_related("campaign")
                    .filter(pk__in=found).order_by("pk"))
        Suppression.objects.filter(pk__in=[suppression.pk for suppression in held]).delete()
        _record(_entries(DONOTCALL_REMOVAL.slug, held, actor=None, actor_username=WORKER,
                         reason=EXPIRED_LONG_AGO,
                         details={"keep_days": settings.DONOTCALL_KEEP_DAYS}))
    return len(held)


class NumberErased(Exception):
    """The entry's number was erased meanwhile: there is none to put on the list."""


def suppression_opt_out(*, entry, number: str, campaign, actor) -> Suppression:
    """Put the number of a record addition's entry on the list (an opt-out from its page);
    raises NumberErased if an erasure took it since the page read the entry, or
    AlreadySuppressed. The erasure's order is kept (the number's list entries, then the
    chain's head, which it holds while it erases), and the entry is read again under the
    head, which the new row's audit entry took: an erasure that came first is seen here,
    one that comes later erases what this writes."""
    key = phone_key(number)
    with transaction.atomic():
        suppressions_hold(key)
        suppression = suppression_add(key=key, campaign=campaign,
                                      reason=Suppression.Reason.CUSTOMER_REQUEST,
                                      source=Suppression.Source.OPT_OUT, source_entry=entry,
                                      actor=actor)
        if Entry.objects.filter(pk=entry.pk, erased_at__isnull=False).exists():
            raise NumberErased
    return suppression


def _held(ids: list[int]) -> list[Suppression]:
    """The entries of these ids still on the list, locked until the transaction ends and
    read again: one taken off meanwhile (a colleague's removal) is not among them.

    Locked before the chain's head is taken for the audit entries, in the order an erasure
    takes them (audit.erasure): taken the other way, the two deadlocked, and a removal
    entry written from the copy read before an erasure held the number it had erased.
    """
    if not ids:
        return []
    return list(Suppression.objects.select_for_update(of=("self",)).select_related("campaign")
                .filter(pk__in=ids).order_by("pk"))


def _make_way(held: list[Suppression]) -> list[Suppression]:
    """Take the expired entries among those held (`_held`) off the list for the new ones
    that replace them: the entries taken off, whose removal entries `suppressions_add_all`
    writes with the new ones'."""
    expired = [suppression for suppression in held if suppression.is_expired]
    Suppression.objects.filter(pk__in=[suppression.pk for suppression in expired]).delete()
    return expired


def _entries(kind: str, suppressions, *, actor, actor_username: str = "", reason: str = "",
             details=None) -> list[Entry]:
    return [
        entry_new(kind=kind, actor=actor, actor_username=actor_username,
                  campaign=suppression.campaign, reason=reason,
                  sent=_described(suppression),
                  details={**(details or {}), "digest": suppression.digest})
        for suppression in suppressions
    ]


def _record(entries: list[Entry]) -> None:
    """Write the entries, complete; the chain's head is held from here to the commit."""
    if not entries:
        return
    entries_begin(entries)
    entries_complete([(entry, outcome_values(outcome=Outcome.SUCCEEDED)) for entry in entries])


def _described(suppression: Suppression) -> dict:
    described = {
        "phone_number": suppression.phone_key and f"+{suppression.phone_key}",
        "campaign": suppression.campaign.thulium_id if suppression.campaign else "",
        "reason": suppression.reason, "note": suppression.note,
        "source": suppression.source,
        "expires_on": suppression.expires_on.isoformat() if suppression.expires_on else None,
    }
    if suppression.source_entry_id:
        described["source_entry"] = suppression.source_entry_id
    if suppression.upload_entry_id:
        described["upload_entry"] = suppression.upload_entry_id
    return described


def suppressions_hold(key: str) -> None:
    """Lock the list's entries for the number, for an erasure (see
    audit.erasure.register_eraser) and the writers that must not cross one."""
    list(Suppression.objects.filter(digest__in=number_digests_ever(key))
         .select_for_update().order_by("pk").values_list("pk"))


def suppressions_held(key: str) -> int:
    """How many of the list's entries still hold the number itself, not its digest alone
    (for an erasure's page)."""
    return _holding(key).count()


def suppressions_forget(key: str, erasure) -> int:
    """An erasure: the list's entries for the number keep only its digest, and still block.
    One erased before keeps that erasure's marker: a second erasure counted it again, and
    said it erased what its page had said was held nowhere."""
    return _holding(key).update(
        phone_key="", erased_at=erasure.at,
        # A note may name the person; an empty one stays empty.
        note=Case(When(note="", then=Value("")), default=Value(erasure.note)),
    )


def _holding(key: str):
    """The list's entries for the number that still hold it itself."""
    return Suppression.objects.filter(digest__in=number_digests_ever(key)).exclude(
        phone_key="")


# Tries of an upload whose numbers others were listing at the same time.
UPLOAD_ATTEMPTS = 3
# Numbers written in one statement: a statement of 200,000 rows took 240 MB more.
UPLOAD_CHUNK = 10_000
# The columns of an uploaded number's row, written many at once (portal.db_many).
UPLOADED_COLUMNS = ["digest", "phone_key", "campaign_id", "reason", "note", "source",
                    "added_by_id", "added_by_username", "created_at", "expires_on",
                    "upload_entry_id"]


class UploadCounts(NamedTuple):
    """What an upload did with its numbers, as its audit entry counts them."""

    added: int  # put on the list
    renewed: int  # put on it again in place of their expired entries
    already: int  # on it already


def suppressions_upload(*, read, campaign, reason: str, note: str = "", expires_on=None,
                        actor, file_name: str) -> UploadCounts:
    """Put a file's numbers on the list: how many were added, renewed and listed already.

    In one transaction, with one audit entry for the upload (DONOTCALL_UPLOAD), which the
    rows point at and each number finds: an entry per number (two links of the chain each,
    written a thousand at a time) took 558 s for 200,000 numbers on a loaded machine, this
    31-35 s. The chain's head, which every audited write waits for, is taken once, for
    the upload's entry alone, for milliseconds. A request that dies midway leaves nothing
    written.

    A number whose entry for this scope has expired gets a new entry in its place: the
    upload took the expired one off, and its entry counts them (`renewed`, apart from
    `added`) where a removal entry each took 20 s for 20,000. Found by the number, it
    follows the entry that listed the number before (a typed number's addition, last
    month's upload), which says by whom, when and until when. The entries found are read
    again under their locks (`_held`): one a colleague was taking off meanwhile is gone,
    and its number is written. One listed by someone else between the reading of the list
    and the writing (a colleague's typed entry, an upload of the same file twice) fails
    the writing: the list is read again, and the numbers written then.
    """
    for attempt in range(1, UPLOAD_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _upload(read=read, campaign=campaign, reason=reason, note=note,
                               expires_on=expires_on, actor=actor, file_name=file_name)
        except IntegrityError:
            if attempt == UPLOAD_ATTEMPTS:
                raise


def _upload(*, read, campaign, reason: str, note: str, expires_on, actor,
            file_name: str) -> UploadCounts:
    found = listed(read.keys, campaign)
    held = _expired_held(list(found))
    expired = [pk for pk, is_expired in held.items() if is_expired]
    _expired_delete(expired)
    renewed = {found[pk] for pk in expired}
    already = {found[pk] for pk in held} - renewed
    keys = [key for key in read.keys if key not in already]
    upload = entry_new(
        kind=DONOTCALL_UPLOAD.slug, actor=actor, campaign=campaign,
        sent={"file_name": file_name[:255],
              "campaign": campaign.thulium_id if campaign else "", "reason": reason,
              "note": note, "source": Suppression.Source.UPLOAD,
              "expires_on": expires_on.isoformat() if expires_on else None},
        details={"added": len(keys) - len(renewed), "renewed": len(renewed),
                 "already": len(already), "repeated": read.repeated,
                 "invalid": read.invalid_count})
    # Its id first, so that the rows, written before the chain's head is taken (as every
    # audited writer does, see suppressions_add_all), can point at it.
    entries_reserve([upload])
    shared = [campaign.pk if campaign else None, reason, note, Suppression.Source.UPLOAD,
              actor.pk, actor.get_username(), timezone.now(), expires_on, upload.pk]
    for start in range(0, len(keys), UPLOAD_CHUNK):
        chunk = keys[start:start + UPLOAD_CHUNK]
        digests = [digest(key, upload.pii_key) for key in chunk]
        entry_numbers_add(upload, digests=digests)
        insert_each(Suppression, columns=UPLOADED_COLUMNS,
                    rows=[[made, key, *shared] for made, key in zip(digests, chunk,
                                                                     strict=True)])
    _record([upload])
    return UploadCounts(added=len(keys) - len(renewed), renewed=len(renewed),
                        already=len(already))


def _expired_held(ids: list[int]) -> dict[int, bool]:
    """Whether each of the entries of these ids still on the list has expired, by id,
    locked as `_held` locks them (in the order of their ids). An upload writes no entry of
    each it renews, and needs no more of them: reading the whole entries with their
    campaigns took 2 s of the renewal of 20,000."""
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_EXPIRED_HELD[connection.vendor],
                       [timezone.localdate().isoformat(), ids_given(ids)])
        return {pk: bool(expired) for pk, expired in cursor.fetchall()}


def _expired_delete(ids: list[int]) -> None:
    """Delete the entries of these ids, held (`_expired_held`)."""
    if ids:
        with connection.cursor() as cursor:
            cursor.execute(_DELETE[connection.vendor], [ids_given(ids)])


# The ids as one JSON parameter, in SQL written once (portal.db_many.IDS_AMONG). Expired:
# its last day (NULL: for good) before today. SQLite runs one writer at a time (settings):
# no lock.
_TABLE = Suppression._meta.db_table
_EXPIRED_HELD = {
    "postgresql": f"SELECT id, expires_on < %s FROM {_TABLE} "
                  f"WHERE id IN {IDS_AMONG['postgresql']} ORDER BY id FOR UPDATE",
    "sqlite": f"SELECT id, expires_on < %s FROM {_TABLE} WHERE id IN {IDS_AMONG['sqlite']} "
              "ORDER BY id",
}
_DELETE = {vendor: f"DELETE FROM {_TABLE} WHERE id IN {ids}" for vendor, ids in IDS_AMONG.items()}
