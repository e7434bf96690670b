"""What users do with an import: upload, map, preview, confirm, cancel, follow, keep a template."""

import hashlib
import logging
from dataclasses import replace

from django.db import transaction
from django.utils import timezone

from .elsewhere import rows_taken_since_preview_set_apart
from .mapping import mapping_by_header, propose_mapping
from .models import ImportJob, ImportTemplate, RowState
from .progress import row_counts
from .pushing import database_now
from .reading import (
    SAMPLE_ROWS,
    FileLayout,
    FileProblem,
    header_refused,
    kept_layout,
    read_layout,
)
from .receipts import receipt_write
from .storing import rows_delete, upload_content, upload_insert, upload_start
from .tasks import check_import, push_import

log = logging.getLogger(__name__)
# The start of a file read for its header and sample rows.
LAYOUT_BYTES = 64 * 1024


def import_upload(*, campaign, actor, file_name: str, content: bytes, layout: FileLayout,
                  language: str = "") -> ImportJob:
    """Keep an uploaded file (already read by the upload form) with a proposed mapping."""
    with transaction.atomic():
        job = ImportJob.objects.create(
            campaign=campaign, actor=actor, actor_username=actor.get_username(),
            file_name=file_name[:255], file_size=len(content),
            file_sha256=hashlib.sha256(content).hexdigest(), file_kind=layout.kind,
            encoding=layout.encoding, delimiter=layout.delimiter, sheet=layout.sheet,
            header_row=layout.header_row, headers=layout.headers,
            hidden_columns=layout.hidden_columns, language=language,
            mapping=propose_mapping(layout.headers, campaign, hidden=layout.hidden_columns),
        )
        upload_insert(job, content)
    log.info("import %s uploaded: %s (%d bytes) for %s", job.pk, job.file_name,
             job.file_size, campaign.thulium_id)
    return job


def import_read_options(*, job: ImportJob, encoding: str = "", delimiter: str = "",
                        sheet: str = "") -> FileLayout:
    """Read the file again as the user says (a CSV file's encoding and separator, a
    workbook's sheet); raises FileProblem if it cannot be read so.

    A preview of the file as it was read before is dropped, rows and all: its rows were
    cut from the file otherwise, and confirmed, they would be sent so.
    """
    layout = _layout_read(job, FileLayout(kind=job.file_kind, encoding=encoding,
                                          delimiter=delimiter, sheet=sheet))
    if refused := header_refused(layout.headers):  # as its upload was judged
        raise FileProblem(refused)
    job.encoding, job.delimiter, job.sheet = encoding, delimiter, layout.sheet
    job.header_row, job.headers = layout.header_row, layout.headers
    job.hidden_columns = layout.hidden_columns
    job.mapping = propose_mapping(layout.headers, job.campaign, hidden=layout.hidden_columns)
    job.check_problem = ""  # a worker's check of the file as it was read before
    job.state, job.rows_total, job.rows_expected, job.rows_valid = (
        ImportJob.State.UPLOADED, 0, 0, 0)
    with transaction.atomic():
        # Locked, as a preview locks it: one that is confirmed meanwhile is left as it is.
        if ImportJob.objects.select_for_update().filter(
                pk=job.pk, state__in=ImportJob.MAPPABLE_STATES).exists():
            rows_delete(job)
            job.save(update_fields=["encoding", "delimiter", "sheet", "header_row", "headers",
                                    "hidden_columns", "mapping", "check_problem", "state",
                                    "rows_total", "rows_expected", "rows_valid"])
    return layout


def import_sample(job: ImportJob) -> FileLayout:
    """The file read for the first rows under the header, to help the user map the
    columns, and a workbook's sheets, to choose which one is read."""
    return _layout_read(job, kept_layout(job))


def _layout_read(job: ImportJob, layout: FileLayout) -> FileLayout:
    """The layout with the file's header and first rows read as it says; from the start of
    a CSV file when that holds them: the whole file is 20 MB at most, for four rows."""
    if job.file_kind == "csv" and job.file_size > LAYOUT_BYTES:
        # Whole lines only: a line may end in the middle of a letter, never of a line end.
        start = upload_start(job, LAYOUT_BYTES)
        lines = start[:start.rfind(b"\n") + 1]
        try:
            read = read_layout(lines, replace(layout))
        except FileProblem:
            read = None  # perhaps the cut: the whole file says
        if read and len(read.sample) == SAMPLE_ROWS:
            return read
    return read_layout(upload_content(job), layout)


def import_template_save(*, job: ImportJob, mapping: list[str], name: str,
                         actor) -> ImportTemplate:
    """Keep the mapping of the job's columns under a name for the campaign; the same name
    is replaced."""
    template, _created = ImportTemplate.objects.update_or_create(
        campaign=job.campaign, name=name,
        defaults={"mapping": mapping_by_header(job.headers, mapping),
                  "saved_by": actor.get_username(), "saved_at": timezone.now()},
    )
    return template


def import_template_delete(*, campaign, pk: int) -> str:
    """Delete one of the campaign's saved mappings; returns its name, "" if there was none."""
    template = campaign.import_templates.filter(pk=pk).first()
    if template is None:
        return ""
    template.delete()
    return template.name


def import_check_start(*, job: ImportJob, mapping: list[str]) -> bool:
    """Hand the check of a file too large to check while its uploader waits to a worker
    (imports.previewing.import_check); False if the import can no longer be mapped."""
    started = _hand_to_worker(
        job, ImportJob.MAPPABLE_STATES, state=ImportJob.State.CHECKING, mapping=mapping,
        heartbeat_at=database_now(job.pk), rows_total=0, rows_expected=0, rows_valid=0,
        check_problem="", choices_unread="")
    log.info("import %s handed to a worker to check: %s", job.pk, started)
    return started


def import_check_stop(*, job: ImportJob) -> bool:
    """Stop a worker's check of the rows, back to the mapping (a wrong column or file seen
    while it runs); False if it had ended. The worker stops at its next batch and drops
    the rows it wrote (imports.previewing)."""
    stopped = ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.CHECKING).update(
        state=ImportJob.State.UPLOADED, rows_total=0, rows_expected=0)
    log.info("import %s: its check stopped by its user: %s", job.pk, bool(stopped))
    return bool(stopped)


def import_confirm(*, job: ImportJob) -> bool:
    """Queue a previewed import for a worker, its rows whose numbers were taken since the
    preview set apart (imports.elsewhere); False if it was already confirmed."""
    now = timezone.now()
    with transaction.atomic():
        # The campaign's imports confirmed one at a time: each sees the rows the one before
        # queued.
        job.campaign.lock()
        confirmed = _hand_to_worker(job, [ImportJob.State.PREVIEWED],
                                    state=ImportJob.State.QUEUED, confirmed_at=now,
                                    heartbeat_at=database_now(job.pk))
        if confirmed:
            rows_taken_since_preview_set_apart(job)
    log.info("import %s confirmed: %s", job.pk, confirmed)
    return confirmed


def _hand_to_worker(job: ImportJob, from_states, **changes) -> bool:
    """Move the import on from one of `from_states` and hand it to a worker; False if
    another request moved it on first. The worker must find the job committed, so it is
    told only after the commit. Heartbeats are in the database's time (imports.resuming)."""
    with transaction.atomic():
        moved = ImportJob.objects.filter(pk=job.pk, state__in=from_states).update(**changes)
        if moved:
            transaction.on_commit(lambda: import_enqueue(job.pk))
    return bool(moved)


def import_enqueue(job_id: int) -> None:
    """Hand the import to a worker of the configured task backend: the check of its rows
    while it is checking, else its push."""
    state = ImportJob.objects.values_list("state", flat=True).get(pk=job_id)
    task = check_import if state == ImportJob.State.CHECKING else push_import
    result = task.enqueue(job_id)
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
