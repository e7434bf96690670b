"""What users do with an import: upload, map, preview, confirm, cancel, follow, keep a template."""

import hashlib
import logging
from itertools import islice

from django.db import transaction
from django.utils import timezone

from records.forms import EarlierAdditions, RecordForm

from .checking import RowChecker, suppressed_set_apart
from .mapping import mapping_by_header, propose_mapping
from .models import ImportJob, ImportTemplate, ImportUpload, RowState
from .progress import row_counts
from .reading import FileLayout, read_layout, read_rows
from .receipts import receipt_write
from .storing import rows_delete, rows_insert
from .tasks import push_import

log = logging.getLogger(__name__)
# Rows checked and written at once while previewing: memory stays flat for any file size,
# and each batch asks once what the portal added of its numbers.
PREVIEW_BATCH = 2000


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
        while batch := list(islice(rows, PREVIEW_BATCH)):
            valid += _rows_write(job, checker.check_all(batch))
            total += len(batch)
        job.rows_total, job.rows_valid, job.state = total, valid, ImportJob.State.PREVIEWED
        job.save(update_fields=["mapping", "rows_total", "rows_valid", "state"])
    log.info("import %s previewed: %d rows, %d to send", job.pk, total, valid)
    return row_counts(job)


def _rows_write(job: ImportJob, batch) -> int:
    """Write a batch of checked rows, the do-not-call list's set apart; how many go to send."""
    batch = suppressed_set_apart(job.campaign, batch)
    rows_insert(job, batch)
    return sum(row.state == RowState.QUEUED for row in batch)


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
            receipt_write(job, row_counts(job))
            return
    ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.RUNNING,
                             cancel_requested_at=None).update(cancel_requested_at=now)
