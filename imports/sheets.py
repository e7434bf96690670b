"""A worksheet's rows as text, each cell as Excel shows it, read with openpyxl's own
parser of a sheet's XML.

Read through the parser rather than a read-only sheet's `iter_rows`, which gives a
cell's value alone: whether Excel saved an error in it (#N/A) is its type, and how Excel
shows a number is its style's number format. A PESEL formatted "00000000000" was sent
without its leading zero, a birth date with a time of 00:00, 15% as 0.15.

A formula's cell gives the value Excel saved with it, in the same single reading of the
sheet; a file written by a script (openpyxl) saves none, and its cell gives the
formula's text as an `UnsavedFormula`, which the preview refuses: the portal never
computes one.
"""

import datetime
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE, is_datetime
from openpyxl.worksheet._reader import COL_TAG, FORMULA_TAG, VALUE_TAG, WorkSheetParser
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse

from .workbooks import EXCEL_ROWS, WorkbookRefused, not_a_spreadsheet

# Whole numbers Excel keeps every digit of: it holds 15 significant digits.
EXCEL_DIGITS_UP_TO = 10**15
# The columns an Excel sheet has: a cell's reference may name any.
EXCEL_COLUMNS = 16_384
# A number format of zeros alone pads a whole number with leading zeros to its width.
_ZEROS = re.compile(r"0+")
# What a number format shows as it is: quoted text, an escaped character, a colour or locale.
_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^]]*]')
# A number format's digits: a 0 shows its digit always, a # or ? when it is not a 0; those
# after its decimal point are the decimal places it shows.
_PLACEHOLDER = re.compile(r"[0#?]")
_DECIMALS = re.compile(r"\.([0#?]+)")
# Formats that show a number otherwise (scientific, as a fraction): read as in General.
_NOT_FIXED = re.compile(r"[Ee][+-]|/")
_SHEET_DATA = f"{{{SHEET_MAIN_NS}}}sheetData"
# How an XML attribute says yes.
_TRUE = ("1", "true")
# How Excel shows a number's decimals to a Polish user, and writes them in the CSV file it
# saves, whose cells are sent as they are: a workbook's are sent the same.
DECIMAL_COMMA = ","


class ExcelError(str):
    """The error Excel saved in a cell (#N/A, #ADR!), as its text: no value to send."""


class UnsavedFormula(str):
    """The text of a formula whose value its file does not hold: no value to send."""


class HiddenRow(list):
    """The cells of a row Excel hides, filtered out (a loader kept only the people who
    agreed) or hidden by hand: not to send."""


def sheet_rows(sheet, *, width: int = EXCEL_COLUMNS) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells as text) for each row the sheet's XML holds, as wide as its own
    last cell, `width` cells at most, a HiddenRow's if Excel hides it; raises
    WorkbookRefused past the last row an Excel sheet has (a row numbered a billion was a
    billion empty rows)."""
    book = sheet.parent
    formats = _Formats(book)
    with sheet._get_source() as source:
        parser = _Parser(source, sheet._shared_strings, data_only=True, epoch=book.epoch,
                         date_formats=book._date_formats,
                         timedelta_formats=book._timedelta_formats)
        for number, cells, hidden in parser.parse():
            if number > EXCEL_ROWS:
                raise WorkbookRefused(not_a_spreadsheet())
            # As wide as the row's last cell, whatever size the sheet states: a size stated
            # too small cut rows and cells off, padding to the widest row took time.
            texts = [""] * min(cells[-1]["column"] if cells else 0, width)
            for cell in cells:
                if cell["column"] <= width:
                    texts[cell["column"] - 1] = _cell_text(cell["value"], cell["data_type"],
                                                           formats[cell["style_id"]])
            yield number, HiddenRow(texts) if hidden else texts


def hidden_columns(sheet) -> list[int]:
    """The indices (0 for A) of the sheet's columns Excel hides (an old landline a CRM
    keeps, not to be proposed as the phone), read from the sheet's XML up to its rows,
    which come after the columns."""
    hidden = set()
    with sheet._get_source() as source:
        for _event, element in iterparse(source, events=("start",)):
            if element.tag == _SHEET_DATA:
                break
            if element.tag == COL_TAG and element.get("hidden") in _TRUE:
                first = int(element.get("min"))
                hidden.update(range(first - 1, min(int(element.get("max", first)),
                                                   EXCEL_COLUMNS)))
    return sorted(hidden)


class _Parser(WorkSheetParser):
    """openpyxl's parser of a sheet's cells, reading a formula's saved value (data_only),
    which gives a formula with none as an empty cell: given its text instead; and whether
    Excel hides each row. It keeps nothing else of the rows read."""

    def parse_cell(self, element):
        cell = super().parse_cell(element)
        if element.find(FORMULA_TAG) is None:
            return cell
        # Read for every formula: a shared formula's first cell defines the others'.
        formula = self.parse_formula(element)
        # Excel saves every result, an empty text too (typed "str"); openpyxl writes an
        # empty value, untyped.
        if not element.findtext(VALUE_TAG) and element.get("t", "n") != "str":
            if isinstance(formula, ArrayFormula):
                formula = formula.text
            cell["value"] = UnsavedFormula(
                "=TABLE()" if isinstance(formula, DataTableFormula) else formula)
        return cell

    def parse_row(self, row):
        number, cells = super().parse_row(row)
        # Each row's height and style, which no value needs, were kept to the sheet's end:
        # a million formatted empty rows held 400 MB.
        self.row_dimensions.clear()
        return number, cells, row.get("hidden") in _TRUE


class _Formats(dict):
    """The first section (for numbers above zero) of the number format of each of the
    workbook's styles, by the style's index, read as the cells use them."""

    def __init__(self, book):
        super().__init__()
        self._book = book

    def __missing__(self, style_id):
        styles = self._book._cell_styles
        number_format = "General"
        if style_id < len(styles):
            format_id = styles[style_id].numFmtId
            number_format = (BUILTIN_FORMATS.get(format_id, "General")
                             if format_id < BUILTIN_FORMATS_MAX_SIZE
                             else self._book._number_formats[format_id - BUILTIN_FORMATS_MAX_SIZE])
        self[style_id] = number_format.split(";")[0]
        return self[style_id]


def _cell_text(value, data_type: str, number_format: str) -> str:
    """A cell as the user sees it (`number_format`: its format's first section): a number
    as its format shows it (`_number_text`), a date alone without a time and times to the
    minute, an error or a formula saved without its value as its own type (checking
    refuses both), never as Python's words for the object openpyxl gives for it."""
    if value is None:
        return ""
    if data_type == "e":
        return ExcelError(value)
    if isinstance(value, UnsavedFormula):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return _number_text(value, number_format)
    if isinstance(value, datetime.datetime) and is_datetime(number_format) == "date":
        return value.strftime("%Y-%m-%d")  # as Thulium writes a date (its start_date)
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _number_text(value: int | float, number_format: str) -> str:
    """A number as Excel shows it to a Polish user, with a decimal comma: zero-padded as a
    format of zeros alone pads it (an identifier), to the decimal places of a format that
    has some ("0.00": 4,50), as a percentage, else as in General format."""
    if abs(value) >= EXCEL_DIGITS_UP_TO and isinstance(value, float):
        # Past Excel's 15 digits the last ones are lost: written as Excel shows it, so that
        # the record form refuses it as it refuses a CSV's, instead of digits made up.
        return format(value, ".15G").replace(".", DECIMAL_COMMA)
    shown = _LITERALS.sub("", number_format)
    whole = float(value).is_integer()
    if whole and _ZEROS.fullmatch(shown) and value >= 0:
        return str(int(value)).zfill(len(shown))
    if _PLACEHOLDER.search(shown) and not _NOT_FIXED.search(shown):
        return _fixed_text(value, shown)
    if whole:
        return str(int(value))
    # Excel keeps 15 significant digits: 0.1 + 0.2 is 0.3 there, 0.30000000000000004 here.
    return format(value, ".15G").replace(".", DECIMAL_COMMA)


def _fixed_text(value: int | float, shown: str) -> str:
    """A number to the decimal places of its format (`shown`), a percentage's times 100,
    halves rounded up as Excel shows them (12.5% under "0%" is 13%, not 12%)."""
    decimals = _DECIMALS.search(shown)
    places = decimals[1] if decimals else ""
    percent = "%" in shown
    number = Decimal(repr(value)) * (100 if percent else 1)
    whole, _point, fraction = str(number.quantize(Decimal(1).scaleb(-len(places)),
                                                  ROUND_HALF_UP)).partition(".")
    # A # or ? after the format's last 0 shows its digit only when it is not a 0.
    always = len(places.rstrip("#?"))
    fraction = fraction[:always] + fraction[always:].rstrip("0")
    text = f"{whole}{DECIMAL_COMMA}{fraction}" if fraction else whole
    return f"{text}%" if percent else text
