"""What users do with an import: upload, map, preview, confirm, cancel, follow, keep a template."""

import datetime
import hashlib
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from records.forms import EarlierAdditions, RecordForm

from .checking import RowChecker
from .mapping import mapping_by_header, propose_mapping
from .models import (
    SENT_STATES,
    ImportJob,
    ImportReceipt,
    ImportTemplate,
    ImportUpload,
    RowState,
)
from .reading import FileLayout, read_layout, read_rows
from .storing import rows_delete, rows_insert

log = logging.getLogger(__name__)
# Rows written per INSERT while previewing: memory stays flat for any file size.
PREVIEW_BATCH = 2000
# Rows per second are measured over this much of the recent past.
RATE_WINDOW = datetime.timedelta(seconds=15)


def import_upload(*, campaign, actor, file_name: str, content: bytes, layout: FileLayout,
                  language: str = "") -> ImportJob:
    """Keep an uploaded file (already read by the upload form) with a proposed mapping."""
    with transaction.atomic():
        job = ImportJob.objects.create(
            campaign=campaign, actor=actor, actor_username=actor.get_username(),
            file_name=file_name[:255], file_size=len(content),
            file_sha256=hashlib.sha256(content).hexdigest(), file_kind=layout.kind,
            encoding=layout.encoding, delimiter=layout.delimiter, headers=layout.headers,
            mapping=propose_mapping(layout.headers, campaign), language=language,
        )
        ImportUpload.objects.create(job=job, content=content)
    log.info("import %s uploaded: %s (%d bytes) for %s", job.pk, job.file_name,
             job.file_size, campaign.thulium_id)
    return job


def import_content(job: ImportJob) -> bytes:
    """The uploaded bytes, read only when the file is read again (they may be 20 MB)."""
    return bytes(ImportUpload.objects.values_list("content", flat=True).get(job=job))


def import_read_options(*, job: ImportJob, encoding: str, delimiter: str) -> FileLayout:
    """Read the file again as the user says; raises FileProblem if it cannot be read so."""
    layout = read_layout(
        import_content(job), FileLayout(kind=job.file_kind, encoding=encoding, delimiter=delimiter)
    )
    job.encoding, job.delimiter, job.headers = encoding, delimiter, layout.headers
    job.mapping = propose_mapping(layout.headers, job.campaign)
    job.save(update_fields=["encoding", "delimiter", "headers", "mapping"])
    return layout


def import_sample(job: ImportJob) -> list[list[str]]:
    """The first rows under the header, to help the user map the columns."""
    layout = FileLayout(kind=job.file_kind, encoding=job.encoding, delimiter=job.delimiter)
    return read_layout(import_content(job), layout).sample


def import_preview(*, job: ImportJob, mapping: list[str], statuses=(), agents=()) -> dict:
    """Check every row with the record form and keep the verdicts; nothing is sent.

    Returns the counts by row state. Raises FileProblem if the file cannot be read.
    """
    form = RecordForm(
        campaign=job.campaign, statuses=statuses, agents=agents,
        earlier=EarlierAdditions(job.campaign),
    )
    job.mapping = mapping
    checker = RowChecker(job=job, form=form)
    layout = FileLayout(kind=job.file_kind, encoding=job.encoding, delimiter=job.delimiter)
    rows = read_rows(import_content(job), layout)
    next(rows)  # the header
    total = valid = 0
    with transaction.atomic():
        rows_delete(job)
        batch = []
        for number, cells in rows:
            row = checker.check(number, cells)
            total += 1
            valid += row.state == RowState.QUEUED
            batch.append(row)
            if len(batch) >= PREVIEW_BATCH:
                rows_insert(job, batch)
                batch = []
        rows_insert(job, batch)
        job.rows_total, job.rows_valid, job.state = total, valid, ImportJob.State.PREVIEWED
        job.save(update_fields=["mapping", "rows_total", "rows_valid", "state"])
    log.info("import %s previewed: %d rows, %d to send", job.pk, total, valid)
    return row_counts(job)


def row_counts(job: ImportJob) -> dict[str, int]:
    """Rows by state, every state present (0 when none)."""
    counts = dict.fromkeys(RowState.values, 0)
    counts.update(job.rows.order_by().values_list("state").annotate(n=Count("pk")))
    return counts


def import_template_save(*, job: ImportJob, name: str, actor) -> ImportTemplate:
    """Keep the job's mapping under a name for the campaign; the same name is replaced."""
    template, _created = ImportTemplate.objects.update_or_create(
        campaign=job.campaign, name=name,
        defaults={"mapping": mapping_by_header(job.headers, job.mapping),
                  "saved_by": actor.get_username(), "saved_at": timezone.now()},
    )
    return template


def import_confirm(*, job: ImportJob) -> bool:
    """Queue a previewed import for a worker; False if it was already confirmed."""
    now = timezone.now()
    with transaction.atomic():
        confirmed = ImportJob.objects.filter(
            pk=job.pk, state=ImportJob.State.PREVIEWED
        ).update(state=ImportJob.State.QUEUED, confirmed_at=now, heartbeat_at=now)
        if confirmed:
            # The worker must find the job committed, so it is told only after the commit.
            transaction.on_commit(lambda: import_enqueue(job.pk))
    log.info("import %s confirmed: %s", job.pk, bool(confirmed))
    return bool(confirmed)


def import_enqueue(job_id: int) -> None:
    """Hand the import to a worker of the configured task backend."""
    from .tasks import push_import

    result = push_import.enqueue(job_id)
    ImportJob.objects.filter(pk=job_id).update(task_id=result.id)


def import_cancel(*, job: ImportJob) -> None:
    """Stop sending: a waiting import ends now; a running one after the rows in flight."""
    now = timezone.now()
    with transaction.atomic():
        if ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.QUEUED).update(
            state=ImportJob.State.CANCELLED, cancel_requested_at=now, finished_at=now
        ):
            job.rows.filter(state=RowState.QUEUED).update(
                state=RowState.NOT_SENT, finished_at=now
            )
            job.refresh_from_db()
            receipt_write(job)
            return
    ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.RUNNING,
                             cancel_requested_at=None).update(cancel_requested_at=now)


def receipt_write(job: ImportJob) -> ImportReceipt:
    """The import's receipt, from its final rows; call once, when the job turned final.

    Begun and completed in one transaction, so no one ever sees it pending; raises
    IntegrityError if the job has a receipt already.
    """
    counts = row_counts(job)
    with transaction.atomic():
        receipt = ImportReceipt.begin(
            actor=job.actor, campaign=job.campaign, job=job, confirmed_at=job.confirmed_at,
            file_name=job.file_name, file_sha256=job.file_sha256,
            sent={
                "file_name": job.file_name, "file_size": job.file_size,
                "file_sha256": job.file_sha256,
                "mapping": mapping_by_header(job.headers, job.mapping),
                "options": {
                    "file_kind": job.file_kind, "encoding": job.encoding,
                    "delimiter": job.delimiter, "language": job.language,
                    "concurrency": settings.IMPORT_CONCURRENCY,
                    "rate_limit": settings.IMPORT_RATE_LIMIT,
                    "retry_attempts": settings.IMPORT_RETRY_ATTEMPTS,
                    "task_backend": settings.TASK_BACKEND,
                },
            },
        )
        receipt.complete(
            outcome=ImportReceipt.RESULT_OUTCOMES[job.state], detail=job.stop_reason,
            result=job.state, rows_total=job.rows_total,
            rows_invalid=counts[RowState.INVALID], rows_duplicate=counts[RowState.DUPLICATE],
            rows_already_added=counts[RowState.ALREADY_ADDED],
            added=counts[RowState.ADDED], added_earlier=counts[RowState.ADDED_EARLIER],
            refused=counts[RowState.REFUSED], failed=counts[RowState.FAILED],
            unknown=counts[RowState.UNKNOWN], not_sent=counts[RowState.NOT_SENT],
        )
        # The receipt keeps the file's SHA-256; the bytes are not needed any more.
        ImportUpload.objects.filter(job=job).delete()
    return receipt


def import_progress(job: ImportJob) -> dict:
    """Where a confirmed import stands, for the progress bar."""
    counts = row_counts(job)
    done = sum(counts[state] for state in SENT_STATES) + counts[RowState.NOT_SENT]
    now = timezone.now()
    rate = 0.0
    if job.started_at and not job.is_final:
        since = max(now - RATE_WINDOW, job.started_at)
        recent = job.rows.filter(finished_at__gte=since, state__in=SENT_STATES).count()
        seconds = (now - since).total_seconds()
        rate = recent / seconds if seconds > 0 else 0.0
    left = job.rows_valid - done
    return {
        "state": job.state,
        "state_label": str(job.get_state_display()),
        "final": job.is_final,
        "cancelling": bool(job.cancel_requested_at) and not job.is_final,
        "total": job.rows_valid,
        "done": done,
        "percent": round(100 * done / job.rows_valid) if job.rows_valid else 100,
        "added": counts[RowState.ADDED],
        "added_earlier": counts[RowState.ADDED_EARLIER],
        "refused": counts[RowState.REFUSED],
        "failed": counts[RowState.FAILED],
        "unknown": counts[RowState.UNKNOWN],
        "not_sent": counts[RowState.NOT_SENT],
        "rows_per_second": round(rate, 1),
        "seconds_left": round(left / rate) if rate > 0 else None,
        "stop_reason": job.stop_reason,
    }
