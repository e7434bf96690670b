"""The rows the preview set aside as wrong, as the file has them, each with why: a CSV to
correct in a spreadsheet and upload again, rather than finding a thousand rows by number.

Read from the uploaded file, which is kept until the import ends (its receipt then keeps
the file's SHA-256 only); nothing of it is stored again.
"""

from collections.abc import Iterator
from pathlib import PurePath

from django.utils.translation import gettext as _

from portal.spreadsheets import csv_lines

from .models import ImportJob, ImportUpload, RowState
from .reading import kept_layout, read_rows
from .report import BOM, CHUNK, DELIMITER
from .storing import upload_content

# What a correction can mend: a value the record form refused, a number typed twice. A
# number already added or on the do-not-call list is not to be sent again.
TO_FIX = (RowState.INVALID, RowState.DUPLICATE)


def rows_to_fix(job: ImportJob) -> bool:
    """True if the job has rows to correct and still keeps its file."""
    return (job.rows.filter(state__in=TO_FIX).exists()
            and ImportUpload.objects.filter(job=job).exists())


def rows_to_fix_name(job: ImportJob) -> str:
    """The download's file name: the upload's, marked ("leady.xlsx" -> "leady-to-fix.csv")."""
    marked = _("to-fix")
    return f"{PurePath(job.file_name).stem}-{marked}.csv"


def rows_to_fix_lines(job: ImportJob) -> Iterator[str]:
    """The CSV's lines: the file's header and its rows to correct, in the file's order and
    cells, each after its number in the file (the reasons name rows by it: "The same phone
    number as row 3.") and followed by why it was not sent; every cell made safe for Excel.

    Raises ImportUpload.DoesNotExist once the import has ended (see `rows_to_fix`).
    """
    # The rows' reasons and the file's rows, both in the file's order, walked together:
    # memory stays flat however many rows a large file has to correct.
    problems = (job.rows.filter(state__in=TO_FIX).order_by("number")
                .values_list("number", "problems").iterator(chunk_size=CHUNK))
    # The preview read the whole file so: it reads again.
    rows = read_rows(upload_content(job), kept_layout(job))
    _number, header = next(rows)
    yield BOM
    yield from csv_lines(_with_why(header, rows, problems), delimiter=DELIMITER)


def _with_why(header, rows, problems):
    # The numbers' column is mapped to nothing when the corrected file is uploaded again.
    yield [_("Row"), *header, _("Why it was not sent")]
    for wanted, why in problems:
        for number, cells in rows:
            if number == wanted:
                # The reason in its own column, under its header: a short row is padded to
                # the header, and a row wider than it keeps its cells past the header after
                # the reason (they stood there, under no header, and the reason after them).
                width = len(header)
                yield [number, *cells[:width], *[""] * (width - len(cells)), " ".join(why),
                       *cells[width:]]
                break
