"""An import's receipt: what it did, kept in the audit log when it ends.

Nothing is called between beginning and completing the receipt's entry, so both happen in
the transaction that makes the job final and no one ever sees it pending. `sent` holds
what defined the import (the file's name, size and SHA-256, the mapping, the options);
`results` the job's final state and what became of its rows.
"""

from django.conf import settings
from django.db import transaction

from audit.models import Entry, Outcome
from audit.recording import entry_begin, entry_complete

from .entries import IMPORT
from .fallback import refusal_facts
from .mapping import mapping_by_header
from .models import ImportJob, ImportUpload, RowState
from .notices import import_finished_notify

# The receipt's counts: rows never sent because of the preview, then what became of the
# rows to send (each of those has its own entry).
COUNTS = {
    "rows_invalid": RowState.INVALID, "rows_duplicate": RowState.DUPLICATE,
    "rows_already_added": RowState.ALREADY_ADDED, "added": RowState.ADDED,
    "added_earlier": RowState.ADDED_EARLIER, "refused": RowState.REFUSED,
    "failed": RowState.FAILED, "unknown": RowState.UNKNOWN, "not_sent": RowState.NOT_SENT,
    "rows_suppressed": RowState.SUPPRESSED, "rows_hidden": RowState.HIDDEN,
    "rows_elsewhere": RowState.ELSEWHERE,
}
# Counts of states newer than the receipts' counts: a receipt written before one lacks it,
# and had no such row.
NEWER_COUNTS = ("rows_hidden", "rows_elsewhere")
# The job's final state in audit terms. Done: every row to send was sent (refusals are
# counted, and each has its own entry). Stopped: Thulium refused the portal's credentials
# or the campaign, or the loader may no longer add records (imports.loaders), so the rest
# was not sent. Cancelled: a user stopped it before the end.
RESULT_OUTCOMES = {
    ImportJob.State.DONE: Outcome.SUCCEEDED,
    ImportJob.State.STOPPED: Outcome.REFUSED,
    ImportJob.State.CANCELLED: Outcome.FAILED,
}


def receipt_counts(job: ImportJob) -> dict[str, int] | None:
    """The rows by state (every state present) as the job's receipt counted them when it
    ended; None without a receipt, or for one written before a state was counted (but for
    NEWER_COUNTS)."""
    if job.receipt_id is None:
        return None
    results = job.receipt.results
    if any(name not in results for name in COUNTS if name not in NEWER_COUNTS):
        return None
    counts = dict.fromkeys(RowState.values, 0)
    counts.update({state: results.get(name, 0) for name, state in COUNTS.items()})
    return counts


def receipt_write(job: ImportJob, counts: dict[str, int]) -> Entry:
    """The import's receipt, from its rows' final counts; call once, when the job turned final.

    Raises ValueError if the job has one already.
    """
    if job.receipt_id is not None:
        raise ValueError(f"import {job.pk} has a receipt already")
    with transaction.atomic():
        receipt = entry_begin(
            kind=IMPORT.slug, actor=job.actor, actor_username=job.actor_username,
            campaign=job.campaign,
            sent={
                "file_name": job.file_name, "file_size": job.file_size,
                "file_sha256": job.file_sha256,
                "mapping": mapping_by_header(job.headers, job.mapping),
                "options": {
                    "file_kind": job.file_kind, "encoding": job.encoding,
                    "delimiter": job.delimiter, "sheet": job.sheet,
                    "header_row": job.header_row,
                    "language": job.language,
                    "concurrency": settings.IMPORT_CONCURRENCY,
                    "batch_size": settings.IMPORT_BATCH_SIZE,
                    "rate_limit": settings.IMPORT_RATE_LIMIT,
                    "retry_attempts": settings.IMPORT_RETRY_ATTEMPTS,
                    "task_backend": settings.TASK_BACKEND,
                },
            },
            details={"job": job.pk, "confirmed_at": job.confirmed_at.isoformat()
                     if job.confirmed_at else None},
        )
        results = {"result": job.state, "rows_total": job.rows_total,
                   **{name: counts[state] for name, state in COUNTS.items()}}
        if job.single_posts_id:
            results["sent_one_by_one"] = refusal_facts(job.single_posts)
        entry_complete(receipt, outcome=RESULT_OUTCOMES[job.state], detail=job.stop_reason,
                       results=results)
        # The job given may be a copy read before another receipt was written.
        if not ImportJob.objects.filter(pk=job.pk, receipt=None).update(receipt=receipt):
            raise ValueError(f"import {job.pk} has a receipt already")
        job.receipt = receipt
        import_finished_notify(job, results)
        # The receipt keeps the file's SHA-256; the bytes are not needed any more.
        ImportUpload.objects.filter(job=job).delete()
    return receipt
