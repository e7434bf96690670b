"""Erasing a number from imports: the rows that hold it, and the files it came in."""

import codecs
import re
from functools import partial

from django.db import connection, transaction
from django.db.models import F, Lookup, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from audit.erasure import Erasure
from portal.db_many import IDS_AMONG, ids_given
from portal.phones import DASHES, keys_ever, significant_digits, spells_number

from .models import BatchRefusal, ImportJob, ImportRow, ImportUpload, RowState
from .reading import workbook_rows
from .storing import upload_content

# What a row's number reads as once erased (the column holds 40 characters).
ERASED = "[erased]"


def import_rows_hold(key: str) -> None:
    """Lock the number's rows, for an erasure: a worker sending one finishes its step
    first, and its next step finds the row erased (imports.sending)."""
    list(_rows_of(key).select_for_update().values_list("pk"))


def _rows_of(key: str):
    """The rows that hold the number: keyed by it, or with it in their cells: refused
    ("601 234 567 wew. 12" has no key, and kept the number until the import was cleared,
    months later), or in a field (a mobile beside the landline dialled)."""
    keys = keys_ever(key)
    return _rows_not_cleared().filter(Q(phone_key__in=keys) | Q(pk__in=_spelling(key, keys)))


def _rows_not_cleared():
    """The rows of the imports whose rows are not cleared (imports.retention): only they
    may hold a number, and a cleared import's were read too, with the chain's head held.
    A subquery, not a join: the rows' lock (`import_rows_hold`) is not to take the import's,
    which an erasure takes after the head."""
    return ImportRow.objects.filter(
        job_id__in=ImportJob.objects.filter(rows_cleared_at=None).values("pk"))


def _spelling(key: str, keys: list[str]) -> list[int]:
    """The rows not keyed by the number whose number, cells (a refused row's) or record
    fields (a row to send's) spell it; the few holding its digits in order are read, as a
    file is (`_spells`)."""
    digits = _in_order(key)
    found = (_rows_not_cleared().exclude(phone_key__in=keys)
             .annotate(cells=Cast("values", TextField()), sent=Cast("payload", TextField()))
             .filter(Q(_Like(F("phone_number"), digits)) | Q(_Like(F("cells"), digits))
                     | Q(_Like(F("sent"), digits)))
             .values_list("pk", "phone_number", "values", "payload"))
    return [pk for pk, number, cells, payload in found
            if _any_spells(key, number, *(cells or {}).values(),
                           *((payload or {}).get("record_fields") or {}).values())]


def _in_order(key: str) -> str:
    """A LIKE pattern every spelling of the number matches, what the database is asked for
    before the few texts found are read (`_any_spells`): its digits in order, anything
    between them. Its last three digits, asked for before, are not together in "22 123 45
    67", Poland's way of writing a landline: such a row kept the number."""
    return f"%{'%'.join(significant_digits(key))}%"


class _Like(Lookup):
    """`text LIKE pattern`, the pattern as given (`contains` escapes its %)."""

    lookup_name = "like"

    def as_sql(self, compiler, connection):
        text, text_params = self.process_lhs(compiler, connection)
        pattern, pattern_params = self.process_rhs(compiler, connection)
        return f"{text} LIKE {pattern}", [*text_params, *pattern_params]


def _any_spells(key: str, *texts) -> bool:
    return any(_spells(str(text).encode(), key) for text in texts)


def rows_erased(row_ids, *, lock: bool = False) -> set[int]:
    """Which of the rows had their number erased (by `import_rows_forget`). With `lock`,
    all of them stay locked until the caller's transaction ends: an erasure then comes
    either before, and is seen here, or after, and erases what the caller writes."""
    if not lock:
        return _erased_among(row_ids)
    rows = ImportRow.objects.filter(pk__in=row_ids).select_for_update()
    return {pk for pk, key in rows.values_list("pk", "phone_key") if not key}


def _erased_among(row_ids) -> set[int]:
    """The erased ones of the rows, asked before each of an import's sends: in SQL written
    once, its ids one JSON parameter (the ORM's query for a hundred ids took 0.4 ms of the
    sending thread to make, a thousand times per 100,000 rows)."""
    with connection.cursor() as cursor:
        cursor.execute(_ERASED_AMONG[connection.vendor], [ids_given(row_ids)])
        return {pk for (pk,) in cursor.fetchall()}


_ERASED_AMONG = {
    vendor: f"SELECT id FROM {ImportRow._meta.db_table} WHERE phone_key = '' AND id IN {ids}"
    for vendor, ids in IDS_AMONG.items()
}


def import_rows_forget(key: str, erasure: Erasure) -> int:
    """Erase the number's rows: their number, cells and payload; one not sent yet never is."""
    rows = _rows_of(key)
    rows.filter(state=RowState.QUEUED).update(state=RowState.NOT_SENT,
                                              finished_at=erasure.at)
    return rows.update(phone_number=ERASED, phone_key="", payload=None, values={},
                       problems=[erasure.note])


def import_rows_held(key: str) -> int:
    """How many import rows hold the number (for an erasure's page)."""
    return _rows_of(key).count()


def import_files_held(key: str) -> int:
    """How many kept uploads hold the number (for an erasure's page)."""
    return sum(1 for _upload in _uploads_holding(key))


def import_files_forget(key: str, erasure: Erasure) -> int:
    """Drop every kept upload that holds the number; an import not confirmed yet ends, its
    rows not sent (one being checked too: its check stops, keeping nothing,
    imports.previewing)."""
    dropped = 0
    for upload in _uploads_holding(key):
        upload.delete()
        dropped += 1
        job = upload.job
        with override(job.language or None):
            reason = _("The file was erased at a person's request: %(note)s") % {
                "note": erasure.note}
        if ImportJob.objects.filter(
            pk=job.pk, state__in=ImportJob.MAPPABLE_STATES + (ImportJob.State.CHECKING,),
        ).update(state=ImportJob.State.CANCELLED, finished_at=timezone.now(),
                 stop_reason=reason):
            # Left "to send", they kept the ended import at part of its progress for good.
            # Once the erasure is committed: locked under the chain's head, they would be
            # taken in the order an import's clearing (its rows, then the head) deadlocks
            # with.
            transaction.on_commit(partial(_rows_not_sent, job.pk, erasure.at))
    return dropped


def batch_refusals_held(key: str) -> int:
    """How many of Thulium's refusals of the batch call repeat the number (for an erasure's
    page): kept for the admin, they hold Thulium's words, which may name a record."""
    return len(_refusals_spelling(key))


def batch_refusals_forget(key: str, erasure: Erasure) -> int:
    """Replace Thulium's words in the refusals that repeat the number by the erasure's note."""
    return BatchRefusal.objects.filter(pk__in=_refusals_spelling(key)).update(
        detail=erasure.note)


def _refusals_spelling(key: str) -> list[int]:
    return [pk for pk, words in BatchRefusal.objects.filter(_Like(F("detail"), _in_order(key)))
            .values_list("pk", "detail") if _any_spells(key, words)]


def _rows_not_sent(job_id: int, at) -> None:
    ImportRow.objects.filter(job_id=job_id, state=RowState.QUEUED).update(
        state=RowState.NOT_SENT, finished_at=at)


def _uploads_holding(key: str):
    """The kept uploads that hold the number, read one by one (not fetched with the list)."""
    for upload in ImportUpload.objects.select_related("job").defer("content").iterator():
        if _holds(upload.job, key):
            yield upload


def _holds(job: ImportJob, key: str) -> bool:
    """True when the job's uploaded file spells the number anywhere.

    The file's bytes are searched, not its cells as the import was told to read them: read
    with a wrong separator, a cell held a whole line and the number went unseen, and a
    wrong encoding stopped the erasure. Digits and what people type between them are the
    same bytes in every encoding the portal reads but UTF-16 (whose file, told by its byte
    order mark, is searched as UTF-8), so a CSV file is searched without decoding it, first
    for the number's digits with everything else left out (one pass), then at each line
    they are found in.
    """
    if job.rows.filter(phone_key__in=keys_ever(key)).exists():
        return True
    digits = significant_digits(key).encode()
    content = upload_content(job)
    if job.file_kind == "xlsx":
        lines = ("\t".join(cells).encode() for cells in workbook_rows(content))
        try:
            return any(_spells(line, key) for line in lines
                       if digits in _NOT_DIGITS.sub(b"", line))
        except Exception:  # openpyxl raises many kinds for a sheet damaged past its start
            # Unread, it may hold the number; and its import can never be sent: dropped,
            # where the error stopped every erasure.
            return True
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        content = content.decode("utf-16", errors="replace").encode()
    only_digits = _NOT_DIGITS_NOR_LINE_ENDS.sub(b"", content)
    at = [match.start() for match in re.finditer(re.escape(digits), only_digits)]
    if not at:
        return False
    lines = content.split(b"\n")
    return any(_spells(lines[only_digits.count(b"\n", 0, start)], key) for start in at)


_NOT_DIGITS = re.compile(rb"[^0-9]+")
_NOT_DIGITS_NOR_LINE_ENDS = re.compile(rb"[^0-9\n]+")
# Excel groups digits with no-break spaces, and its autocorrect and word processors write
# dashes other than "-": read as a space and "-", in UTF-8 and in Windows-1250 (in the
# ISO-8859-2 and UTF-8 files those single bytes are no character a number is written with).
_AS_TYPED = ((b"\xc2\xa0", b" "), *((dash.encode(), b"-") for dash in DASHES),
             (b"\xa0", b" "), (b"\x96", b"-"), (b"\x97", b"-"))


def _spells(line: bytes, key: str) -> bool:
    """True when the line (of a file in any encoding the portal reads) spells the number,
    as portal.phones reads a text for it."""
    for typed, read in _AS_TYPED:
        line = line.replace(typed, read)
    return spells_number(line.decode("latin-1"), key)
