"""How long an import keeps the personal data of its rows: IMPORT_KEEP_DAYS.

Its rows hold each person's number and record fields (the payload, the mapped cells, why a
row was not sent) for the import's pages, its report and the rows to correct. Once the
import has ended, its uploader needs them for a while, not for ever: IMPORT_KEEP_DAYS
days after the end, the worker clears them. Each row keeps its number in the file and its
state; the receipt keeps the counts, and the audit trail each row's send, as the law of
evidence asks (an erasure on request reaches those). An import never sent by then (its
file uploaded or previewed, and left) is cancelled, and its file dropped with its rows'
data. Each clearing is an entry in the audit trail.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import ngettext, override

from audit.models import Outcome
from audit.recording import WORKER, chain_hold, entry_begin, entry_complete

from .entries import IMPORT_CLEARED
from .erasure import ERASED
from .models import ImportJob, ImportRow, ImportUpload, RowState

UNSENT_STATES = (*ImportJob.MAPPABLE_STATES, ImportJob.State.CHECKING)
# The rows a turn of the worker's step clears, at most, past its first import: each import is
# a transaction that locks its rows, and the imports left wait for the next turn.
ROWS_PER_TURN = 200_000


def imports_clear_expired(*, now: datetime | None = None) -> list[int]:
    """Clear the rows of the imports whose time ran out before `now`, oldest first, until
    ROWS_PER_TURN rows are cleared (the next turn goes on); returns their ids."""
    if settings.IMPORT_KEEP_DAYS <= 0:
        return []
    now = now or timezone.now()
    expired = ImportJob.objects.filter(_expired(now), rows_cleared_at=None)
    cleared, rows = [], 0
    for pk in expired.order_by("pk").values_list("pk", flat=True):
        if rows >= ROWS_PER_TURN:
            break
        rows_of_import = _import_clear(pk, now)
        if rows_of_import is not None:
            cleared.append(pk)
            rows += rows_of_import
    return cleared


def _expired(now: datetime) -> Q:
    """The imports whose time ran out: ended, or uploaded and never sent, too long ago."""
    before = now - timedelta(days=settings.IMPORT_KEEP_DAYS)
    return (Q(state__in=ImportJob.FINAL_STATES, finished_at__lt=before)
            | Q(state__in=UNSENT_STATES, created_at__lt=before))


def _import_clear(pk: int, now: datetime) -> int | None:
    """Clear one import's rows, in one transaction; returns how many, or None if it was
    cleared meanwhile, or is no longer to clear (confirmed, or ended by an erasure, since
    it was listed).

    The rows are locked first (by clearing them), then the chain's head, the import's file
    and the import: in the order an erasure and a preview take them (audit.erasure,
    imports.erasure, imports.previewing), so that none can deadlock with another. Rows a
    preview wrote meanwhile are cleared once the import is held: the first clearing did
    not see them (they were kept for good); only they are, as every audited action waits
    for the head. All is undone if the import turns out not to be clearable.
    """
    with transaction.atomic():
        rows = _rows_clear(pk)
        chain_hold()
        file_dropped, _by_model = ImportUpload.objects.filter(job_id=pk).delete()
        job = (ImportJob.objects.select_for_update().select_related("campaign")
               .filter(_expired(now), pk=pk, rows_cleared_at=None).first())
        if job is None:
            transaction.set_rollback(True)
            return None
        rows += _rows_clear(pk)
        unsent = job.state in UNSENT_STATES
        if unsent:
            _unsent_end(job, now)
        job.rows_cleared_at = now
        job.save(update_fields=["rows_cleared_at"])
        entry = entry_begin(
            kind=IMPORT_CLEARED.slug, actor=None, actor_username=WORKER,
            campaign=job.campaign,
            details={"job": job.pk, "file_name": job.file_name,
                     "keep_days": settings.IMPORT_KEEP_DAYS, "never_sent": unsent})
        entry_complete(entry, outcome=Outcome.SUCCEEDED,
                       results={"rows": rows, "file_dropped": bool(file_dropped)})
    return rows


def _rows_clear(job_id: int) -> int:
    """Clear the import's rows of what they hold of people; returns how many. A row cleared
    already is not written again, and an erased row keeps its note of the erasure: it holds
    nothing more."""
    return ImportRow.objects.filter(job_id=job_id).exclude(_CLEARED).update(
        phone_number="", phone_key="", payload=None, values={}, problems=[])


_CLEARED = Q(phone_number=ERASED) | Q(phone_number="", phone_key="", payload__isnull=True,
                                      values={}, problems=[])


def _unsent_end(job: ImportJob, now: datetime) -> None:
    """Cancel an import left before it was sent (a check running on it stops, as for an
    erasure: imports.previewing)."""
    job.rows.filter(state=RowState.QUEUED).update(state=RowState.NOT_SENT, finished_at=now)
    with override(job.language or None):
        reason = ngettext(
            "Not sent within %(days)d day of its upload: its file and its rows' phone "
            "numbers and fields were cleared.",
            "Not sent within %(days)d days of its upload: its file and its rows' phone "
            "numbers and fields were cleared.",
            settings.IMPORT_KEEP_DAYS) % {"days": settings.IMPORT_KEEP_DAYS}
    job.state, job.finished_at, job.stop_reason = ImportJob.State.CANCELLED, now, reason
    job.save(update_fields=["state", "finished_at", "stop_reason"])
