"""Checking every row of an import's file with the record form's rules; nothing is sent.

A small file is checked while its uploader waits (`import_preview`), a workbook small
by what it unpacks to (`checked_inline`). A large one would
hold a web worker past its timeout (450,000 rows took 41 s on a fast machine), so a worker
of the task backend checks it (`import_check`), committing batch by batch and renewing
the import's heartbeat, so that a check whose worker died is found and begun again
(imports.resuming).
"""

import logging
from contextlib import closing
from itertools import islice

from django.conf import settings
from django.db import transaction
from django.utils import translation

from campaigns.services import campaign_choices
from portal.phones import forget_keyed_numbers
from portal.thulium import ThuliumError
from records.forms import EarlierAdditions, RecordForm

from .checking import RowChecker, suppressed_set_apart
from .elsewhere import rows_waiting_elsewhere_set_apart
from .models import ImportJob, ImportRow, ImportUpload, RowState
from .pushing import database_now
from .reading import FileProblem, kept_layout, read_rows
from .storing import rows_delete, rows_insert, upload_content
from .workbooks import XML_PER_CSV_BYTE, unpacked_size

log = logging.getLogger(__name__)
# Rows checked and written at once: memory stays flat for any file size, and each batch
# asks once what the portal added of its numbers.
PREVIEW_BATCH = 2000


def import_preview(*, job: ImportJob, mapping: list[str], language: str | None = None) -> None:
    """Check every row in one transaction, while the user waits, unless the import has
    ended meanwhile; raises FileProblem if the file cannot be read."""
    statuses, agents, unread = _choices(job, language)
    with transaction.atomic():
        # Locked while its rows are written: an erasure of its file waits, then finds them
        # (imports.erasure); one that came first has ended it. Its rows first, as an
        # erasure and the clearing of old imports (imports.retention) take them: the
        # import first, a preview and a clearing deadlocked.
        _rows_hold(job)
        if not ImportJob.objects.select_for_update().filter(
                pk=job.pk, state__in=ImportJob.MAPPABLE_STATES).exists():
            return
        rows_delete(job)
        total, valid = _rows_check(job, upload_content(job), mapping, statuses, agents)
        valid -= rows_waiting_elsewhere_set_apart(job)
        job.mapping, job.rows_total, job.rows_valid = mapping, total, valid
        job.state, job.choices_unread = ImportJob.State.PREVIEWED, unread
        job.save(update_fields=["mapping", "rows_total", "rows_valid", "state",
                                "choices_unread"])
    log.info("import %s previewed: %d rows, %d to send", job.pk, total, valid)


def checked_inline(job: ImportJob) -> bool:
    """True if the file's rows are few enough to check while its uploader waits: a CSV
    file of at most IMPORT_CHECK_INLINE_BYTES, a workbook whose XML is at most as large
    as such a file's rows (its own bytes say little of its rows: 21 KB held 200,000)."""
    if job.file_size > settings.IMPORT_CHECK_INLINE_BYTES:
        return False
    if job.file_kind != "xlsx":
        return True
    unpacked = unpacked_size(upload_content(job))
    return unpacked <= XML_PER_CSV_BYTE * settings.IMPORT_CHECK_INLINE_BYTES


def import_check(job_id: int) -> None:
    """A worker's check of an import waiting in CHECKING (imports.services.import_check_start).

    Its statuses and agents are read as the record form reads them; a file that cannot be
    read sends the import back to its mapping, saying why, in its uploader's language.
    Safe to run again: a check begins by deleting what an earlier one wrote. The numbers
    it keyed are forgotten at its end, as a request's are: a worker runs for months, and an
    erasure must leave none of them in its memory.
    """
    try:
        _check(job_id)
    finally:
        forget_keyed_numbers()


def _check(job_id: int) -> None:
    job = ImportJob.objects.filter(pk=job_id, state=ImportJob.State.CHECKING).first()
    if job is None:
        return
    with translation.override(job.language or None):
        statuses, agents, unread = _choices(job, job.language or None)
        try:
            content = upload_content(job)
            expected = _lines(job, content)
            # The earlier rows deleted with the heartbeat renewed, as a batch is stored: a
            # newer check that took the import meanwhile keeps its rows. The rows locked
            # before the import, as an erasure takes them (see `import_preview`).
            with transaction.atomic():
                _rows_hold(job)
                _renew(job, rows_expected=expected)
                rows_delete(job)
            total, valid = _rows_check(job, content, job.mapping, statuses, agents,
                                       store=lambda rows, total: _stored(job, rows, total))
            with transaction.atomic():  # as a batch is stored: while the check is this one's
                _renew(job)
                valid -= rows_waiting_elsewhere_set_apart(job)
        except FileProblem as problem:
            _still_checking(job).update(state=ImportJob.State.UPLOADED, rows_total=0,
                                        check_problem=str(problem.message))
            _rows_dropped_unless_checked_again(job)
            log.info("import %s could not be checked: %s", job.pk, problem.message)
            return
        except (_Superseded, ImportUpload.DoesNotExist):
            _rows_dropped_unless_checked_again(job)
            log.info("import %s: its check was taken over or stopped", job.pk)
            return
    if not _still_checking(job).update(state=ImportJob.State.PREVIEWED, rows_total=total,
                                       rows_valid=valid, choices_unread=unread):
        _rows_dropped_unless_checked_again(job)  # stopped after its last batch
        log.info("import %s: its check was taken over or stopped", job.pk)
        return
    log.info("import %s checked by a worker: %d rows, %d to send", job.pk, total, valid)


def _choices(job: ImportJob, language: str | None) -> tuple[list, list, str]:
    """The campaign's statuses and agents, read as the record form reads them; if Thulium
    could not give them, none, and what it said, for the preview to show: rows that name
    a status or an agent then fail the check, as in the form."""
    try:
        statuses, agents = campaign_choices(job.campaign, language=language)
    except ThuliumError as error:
        return [], [], error.user_text()
    return statuses, agents, ""


class _Superseded(Exception):
    """The import is no longer this check's: a newer check took it, or it was stopped."""


def _still_checking(job: ImportJob):
    """The import, if this check still has it: no newer check took it over (the heartbeat
    it last renewed is still there)."""
    return ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.CHECKING,
                                    heartbeat_at=job.heartbeat_at)


def _renew(job: ImportJob, **progress) -> None:
    """Renew the check's heartbeat, saying how far it is; raises _Superseded if the import
    is no longer this check's."""
    now = database_now(job.pk)  # the time stalled imports are found in (imports.resuming)
    if not _still_checking(job).update(heartbeat_at=now, **progress):
        raise _Superseded
    job.heartbeat_at = now


def _stored(job: ImportJob, rows, total: int) -> None:
    """Write a batch of checked rows if the import is still this check's, saying how many
    rows are checked; raises _Superseded if not. One transaction, holding the import's row
    from the heartbeat to the rows: a batch is never written after the check was stopped,
    or taken over by a newer check that began by deleting the rows."""
    with transaction.atomic():
        _renew(job, rows_total=total)
        rows_insert(job, rows)


def _rows_dropped_unless_checked_again(job: ImportJob) -> None:
    """Delete the rows of a check that ended (its file unreadable, stopped by its user, or
    erased at a person's request), unless a newer check took the import (its heartbeat is
    no longer this check's): the rows are that one's, still checking or checked. Told by
    its state alone, a newer check that had ended first lost its whole preview. The import
    is held meanwhile, so that no newer check begins."""
    with transaction.atomic():
        _rows_hold(job)
        if ImportJob.objects.select_for_update().filter(
                pk=job.pk, heartbeat_at=job.heartbeat_at).exclude(
                state=ImportJob.State.CHECKING).exists():
            rows_delete(job)


def _rows_hold(job: ImportJob) -> None:
    """Lock the import's rows, before the import (see `import_preview`): alone, as the
    rows' default order (by import) would join, and lock, the import with them."""
    list(ImportRow.objects.filter(job=job).order_by().select_for_update(of=("self",))
         .values_list("pk"))


def _lines(job: ImportJob, content: bytes) -> int:
    """About how many rows a CSV file has under its header (a quoted cell may hold a line
    end); 0 for a workbook, whose rows are known only once read."""
    if job.file_kind != "csv":
        return 0
    return max(content.count(b"\n") + (not content.endswith(b"\n")) - 1, 0)


def _rows_check(job: ImportJob, content: bytes, mapping: list[str], statuses, agents,
                store=None) -> tuple[int, int]:
    """Check every row of the file (`content`) and write it, batch by batch, in place of
    what an earlier check wrote (the caller deleted it): `store(rows, rows checked so far)`
    does (else `rows_insert`); returns how many rows the file has and how many of them are
    to send."""
    store = store or (lambda rows, _total: rows_insert(job, rows))
    form = RecordForm(campaign=job.campaign, statuses=statuses, agents=agents,
                      earlier=EarlierAdditions(job.campaign))
    job.mapping = mapping
    rows = read_rows(content, kept_layout(job))
    next(rows)  # the header
    total = valid = 0
    with closing(RowChecker(job=job, form=form)) as checker:
        while batch := list(islice(rows, PREVIEW_BATCH)):
            checked = suppressed_set_apart(job.campaign, checker.check_all(batch))
            total += len(batch)
            store(checked, total)
            valid += sum(row.state == RowState.QUEUED for row in checked)
    return total, valid
