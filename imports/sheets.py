"""A worksheet's rows as text, each cell as Excel shows it, read with openpyxl's own
parser of a sheet's XML.

Read through the parser rather than a read-only sheet's `iter_rows`, which gives a
cell's value alone: whether Excel saved an error in it (#N/A) is its type, which the
preview needs to refuse it.
"""

import datetime
from collections.abc import Iterator

from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

from .workbooks import EXCEL_ROWS, WorkbookRefused, not_a_spreadsheet

# Whole numbers Excel keeps every digit of: it holds 15 significant digits.
EXCEL_DIGITS_UP_TO = 10**15
# The columns an Excel sheet has: a cell's reference may name any.
EXCEL_COLUMNS = 16_384


class ExcelError(str):
    """The error Excel saved in a cell (#N/A, #ADR!), as its text: no value to send."""


def sheet_rows(sheet, *, width: int = EXCEL_COLUMNS) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells as text) for each row the sheet's XML holds, as wide as its own
    last cell, `width` cells at most; raises WorkbookRefused past the last row an Excel
    sheet has (a row numbered a billion was a billion empty rows)."""
    book = sheet.parent
    with sheet._get_source() as source:
        parser = WorkSheetParser(source, sheet._shared_strings, epoch=book.epoch,
                                 date_formats=book._date_formats,
                                 timedelta_formats=book._timedelta_formats)
        for number, cells in parser.parse():
            if number > EXCEL_ROWS:
                raise WorkbookRefused(not_a_spreadsheet())
            # As wide as the row's last cell, whatever size the sheet states: a size stated
            # too small cut rows and cells off, padding to the widest row took time.
            texts = [""] * min(cells[-1]["column"] if cells else 0, width)
            for cell in cells:
                if cell["column"] <= width:
                    texts[cell["column"] - 1] = _cell_text(cell["value"], cell["data_type"])
            yield number, texts


def _cell_text(value, data_type: str) -> str:
    """A cell as the user sees it: whole numbers without `.0`, times to the minute, an
    array formula as its text (checking refuses a formula), an error as its own type,
    never as Python's words for the object openpyxl gives for it."""
    if value is None:
        return ""
    if data_type == "e":
        return ExcelError(value)
    if isinstance(value, ArrayFormula):
        return value.text
    if isinstance(value, DataTableFormula):
        return "=TABLE()"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) >= EXCEL_DIGITS_UP_TO:
        # Past Excel's 15 digits the last ones are lost: written as Excel shows it, so that
        # the record form refuses it as it refuses a CSV's, instead of digits made up.
        return format(value, ".15G")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date):
        return value.strftime("%Y-%m-%d")
    return str(value)
