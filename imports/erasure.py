"""Erasing a number from imports: the rows that hold it, and the files it came in."""

from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.erasure import Erasure
from portal.phones import number_key

from .models import ImportJob, ImportRow, ImportUpload, RowState
from .reading import FileLayout, read_rows
from .storing import upload_content

# What a row's number reads as once erased (the column holds 40 characters).
ERASED = "[erased]"


def import_rows_hold(key: str) -> None:
    """Lock the number's rows, for an erasure: a worker sending one finishes its step
    first, and its next step finds the row erased (imports.sending)."""
    list(ImportRow.objects.filter(phone_key=key).select_for_update().values_list("pk"))


def rows_erased(row_ids, *, lock: bool = False) -> set[int]:
    """Which of the rows had their number erased (by `import_rows_forget`). With `lock`,
    all of them stay locked until the caller's transaction ends: an erasure then comes
    either before, and is seen here, or after, and erases what the caller writes."""
    rows = ImportRow.objects.filter(pk__in=row_ids)
    if lock:
        rows = rows.select_for_update()
    return {pk for pk, key in rows.values_list("pk", "phone_key") if not key}


def import_rows_forget(key: str, erasure: Erasure) -> int:
    """Erase the number's rows: their number, cells and payload; one not sent yet never is."""
    rows = ImportRow.objects.filter(phone_key=key)
    rows.filter(state=RowState.QUEUED).update(state=RowState.NOT_SENT,
                                              finished_at=erasure.at)
    return rows.update(phone_number=ERASED, phone_key="", payload=None, values={},
                       problems=[erasure.note])


def import_rows_held(key: str) -> int:
    """How many import rows hold the number (for an erasure's page)."""
    return ImportRow.objects.filter(phone_key=key).count()


def import_files_held(key: str) -> int:
    """How many kept uploads hold the number (for an erasure's page)."""
    return sum(1 for _upload in _uploads_holding(key))


def import_files_forget(key: str, erasure: Erasure) -> int:
    """Drop every kept upload that holds the number; an import not confirmed yet ends (one
    being checked too: its check stops, keeping nothing, imports.previewing)."""
    dropped = 0
    for upload in _uploads_holding(key):
        upload.delete()
        dropped += 1
        ImportJob.objects.filter(
            pk=upload.job_id, state__in=ImportJob.MAPPABLE_STATES + (ImportJob.State.CHECKING,),
        ).update(state=ImportJob.State.CANCELLED, finished_at=timezone.now(),
                 stop_reason=f"The file was erased at a person's request: {erasure.note}")
    return dropped


def _uploads_holding(key: str):
    """The kept uploads that hold the number, read one by one (not fetched with the list)."""
    for upload in ImportUpload.objects.select_related("job").defer("content").iterator():
        if _holds(upload.job, key):
            yield upload


def _holds(job: ImportJob, key: str) -> bool:
    """True when a cell of the job's uploaded file is the number, in any spelling."""
    if job.rows.filter(phone_key=key).exists():
        return True
    layout = FileLayout(kind=job.file_kind, encoding=job.encoding, delimiter=job.delimiter)
    for _number, cells in read_rows(upload_content(job), layout):
        for cell in cells:
            try:
                if number_key(str(cell)) == key:
                    return True
            except ValidationError:
                continue
    return False
