"""Rows whose numbers another import or addition of the campaign took since their check.

Two imports holding a number (the same file uploaded twice) would both send it, and
Thulium refuses the second (ALREADY_EXISTS). A preview sets apart its rows whose numbers
wait in an import being sent; a confirmation looks again, as another import may have been
confirmed or sent since. An import that ended holds nothing back: what it added is
"already added" (records.forms), and what it did not add a deliberate re-run sends.
"""

from django.db.models import F
from django.utils.translation import gettext as _

from records.models import AddedRecord

from .models import ImportJob, ImportRow, RowState

# Numbers a statement sets apart at most: its parameters stay well under a database's limit.
KEYS_PER_UPDATE = 5_000


def rows_waiting_elsewhere_set_apart(job: ImportJob) -> int:
    """Set apart the job's rows to send whose numbers another import of the campaign is
    sending or about to send; returns how many.

    The other imports' numbers are read first, and the job's rows then set apart by them:
    as one UPDATE with a subquery of the rows' table, PostgreSQL, its statistics not yet
    counting a file just stored, looped over the other rows for each of the job's (minutes
    for 100,000 rows, the confirmation past gunicorn's timeout). Most confirmations meet no
    other import at all."""
    others = list(ImportJob.objects.filter(
        campaign_id=job.campaign_id,
        state__in=(ImportJob.State.QUEUED, ImportJob.State.RUNNING),
    ).exclude(pk=job.pk).values_list("pk", flat=True))
    if not others:
        return 0
    waiting = sorted(set(ImportRow.objects.filter(
        job_id__in=others, state__in=(RowState.QUEUED, RowState.SENDING),
    ).values_list("phone_key", flat=True).iterator()))
    set_apart = 0
    for start in range(0, len(waiting), KEYS_PER_UPDATE):
        keys = waiting[start:start + KEYS_PER_UPDATE]
        set_apart += job.rows.filter(state=RowState.QUEUED, phone_key__in=keys).update(
            state=RowState.ELSEWHERE, payload=None,
            problems=[_("This number waits to be sent by another import of this campaign.")])
    return set_apart


def rows_taken_since_preview_set_apart(job: ImportJob) -> int:
    """At the job's confirmation, in its transaction, its campaign locked: set apart its
    rows to send whose numbers the portal added since the preview, or another import now
    waits to send, counted off its rows to send; returns how many."""
    added = AddedRecord.objects.filter(campaign_id=job.campaign_id).values("phone_key")
    set_apart = job.rows.filter(state=RowState.QUEUED, phone_key__in=added).update(
        state=RowState.ALREADY_ADDED, payload=None,
        problems=[_("The portal added this number to the campaign after the preview.")])
    set_apart += rows_waiting_elsewhere_set_apart(job)
    if set_apart:
        ImportJob.objects.filter(pk=job.pk).update(rows_valid=F("rows_valid") - set_apart)
    return set_apart
