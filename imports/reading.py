"""Reading an uploaded CSV or XLSX file into rows of text, or saying clearly why not.

CSV files come from Polish Excel: UTF-8 (with or without BOM), Windows-1250,
ISO-8859-2 or UTF-16 (Excel's "Unicode text"), separated by `,` `;` tabs or `|`; a first
line "sep=;", as some programs write for Excel, names the separator. XLSX files are read
with openpyxl in read-only mode (imports.workbooks), so a large sheet is streamed, and
formulas are never evaluated: a formula's cell gives the value Excel saved
(imports.sheets); a workbook holding more than a spreadsheet program writes is refused
(imports.workbooks).
"""

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import dropwhile

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from portal.phones import spells_a_phone_number
from portal.spreadsheets import unquoted

from .sheets import HiddenRow, hidden_columns, sheet_rows
from .workbooks import WorkbookRefused, open_workbook

ENCODINGS = {
    "utf-8-sig": _("UTF-8 with BOM"),
    "utf-8": _("UTF-8"),
    "cp1250": _("Windows-1250 (Polish Excel)"),
    "iso-8859-2": _("ISO-8859-2 (Latin-2)"),
    "utf-16": _("UTF-16 (Excel's Unicode text)"),
}
DELIMITERS = {";": _("semicolon ;"), ",": _("comma ,"), "\t": _("tab"), "|": _("vertical bar |")}
# A first line naming the separator, which Excel reads and hides: not the header.
_SEPARATOR_LINE = re.compile(r"sep=(.)?[\r\n]*", re.IGNORECASE)
SAMPLE_ROWS = 3
# Rows a file may have above its column names (a report's title, its date, a row of merged
# group names), read past as a title: at most this many.
MOST_TITLE_ROWS = 5
# Empty rows a workbook's sample is read past at most: formatted down to the sheet's last
# row, a workbook's million empty rows took its upload some 13 s to read past one person.
SAMPLE_BLANK_ROWS = 10_000

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls format
# A workbook saved with a password is an OLE file too, holding the encrypted .xlsx under
# this stream name (MS-OFFCRYPTO); an OpenDocument file is a zip that names its type first.
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_ODF_MIMETYPE = b"mimetypeapplication/vnd.oasis.opendocument"
_SNIFF_BYTES = 64 * 1024
# What csv.Sniffer is given: the header and ten lines, of at most 2 KiB. Its regular
# expressions take time as the square of the quotes it is given, the more so across
# lines: the first 64 KiB of a file of lines of one quote took 248 s of the web process.
_SNIFFED_LINES = 11
_SNIFFED_CHARS = 2 * 1024
# Only blanks and byte order marks: an empty file. Matched in place, where strip() would
# copy a 20 MB file to find it is not empty.
_BLANK = re.compile(rb"[ \t\r\n\xef\xbb\xbf]*")
# Polish letters whose byte differs between the two legacy code pages (ą ś ź Ą Ś Ź);
# the other Polish letters share their bytes. 0x80-0x9F are control codes in
# ISO-8859-2, so any of them also means Windows-1250.
_CP1250_ONLY = [bytes([byte]) for byte in {*b"\xb9\x9c\x9f\xa5\x8c\x8f", *range(0x80, 0xA0)}]
_ISO_ONLY = [bytes([byte]) for byte in b"\xb1\xb6\xbc\xa1\xa6\xac"]


class FileProblem(Exception):
    """The file as a whole cannot be imported; the message says why, for the user."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def header_refused(headers: list[str]) -> str:
    """Why the first row cannot be the header, or "": it spells a phone number, so the file
    has none, and would lose its first person to it and keep their number and name as
    columns' names (in the import, its receipt and a saved mapping, where an erasure does
    not look for them). Spelled as in a cell the record form refuses ("601 234 567 wew.
    12") too: the erasure finds those."""
    for header in headers:
        # A phone's number by its country's plan: a column named by a date is no person's
        # number, though it has 6 to 15 digits.
        if spells_a_phone_number(header):
            return str(_("The first row must name the columns, but it holds a phone number "
                         "(%(value)s): add a row of column names (e.g. Telefon; Imię) above "
                         "the first person and upload the file again.") % {
                             "value": header[:40]})
    return ""


def sheet_refused(sheet: str) -> str:
    """Why a workbook's sheet cannot be read, or "": its name spells a phone number, and is
    kept with the import and in its receipt (sent.options.sheet), where an erasure does not
    look for it; spotted as a file's name is (imports.forms.UploadForm)."""
    if spells_a_phone_number(sheet):
        return str(_("The sheet's name holds a phone number (%(sheet)s), and it is kept with "
                     "the import and in the audit trail, where erasing the number would not "
                     "reach it: rename the sheet in the file (e.g. after its date) and upload "
                     "the file again.") % {"sheet": sheet})
    return ""


@dataclass
class FileLayout:
    """How to read a file, as detected (and possibly corrected by the user)."""

    kind: str  # "csv" or "xlsx"
    encoding: str = ""
    delimiter: str = ""
    # A workbook's sheet to read, "" for its first visible one; once its rows are read, the
    # sheet read, and every sheet of the workbook (its name: whether Excel shows it).
    sheet: str = ""
    sheets: dict[str, bool] = field(default_factory=dict)
    # The row of the column names, the rows above it (a title) not read; 0 to find it
    # (`_header_at`), which reading the rows notes here.
    header_row: int = 0
    headers: list[str] = field(default_factory=list)
    # The indices of the columns a workbook's sheet hides.
    hidden_columns: list[int] = field(default_factory=list)
    sample: list[list[str]] = field(default_factory=list)


def kept_layout(job) -> FileLayout:
    """How an import's file is read, as the import keeps it."""
    return FileLayout(kind=job.file_kind, encoding=job.encoding, delimiter=job.delimiter,
                      sheet=job.sheet, header_row=job.header_row)


def detect_layout(content: bytes, file_name: str) -> FileLayout:
    """The file's kind, encoding, delimiter, header and first rows; raises FileProblem."""
    kind = file_kind(content, file_name)
    if kind == "xlsx":
        return read_layout(content, FileLayout(kind="xlsx"))
    encoding = detect_encoding(content)
    delimiter = detect_delimiter(content[:_SNIFF_BYTES].decode(encoding, errors="replace"))
    return read_layout(content, FileLayout(kind="csv", encoding=encoding, delimiter=delimiter))


def read_layout(content: bytes, layout: FileLayout) -> FileLayout:
    """The layout with the header and sample rows read as it says; raises FileProblem."""
    rows = read_rows(content, layout, blank_rows=SAMPLE_BLANK_ROWS)
    first = next(rows, None)
    if first is None:
        raise FileProblem(_("The file is empty."))
    _number, headers = first
    while headers and not headers[-1].strip():
        headers = headers[:-1]  # a trailing separator or empty sheet columns: no column
    if len(headers) > settings.IMPORT_MAX_COLUMNS:
        raise FileProblem(
            _("The first row has %(count)d columns; the portal reads at most %(max)d.")
            % {"count": len(headers), "max": settings.IMPORT_MAX_COLUMNS}
        )
    layout.headers = [cell.strip() for cell in headers]
    layout.hidden_columns = [index for index in layout.hidden_columns
                             if index < len(layout.headers)]
    # Not a row Excel hides: not to send, its person's cells are not shown either.
    shown = ((number, cells) for number, cells in rows if not isinstance(cells, HiddenRow))
    layout.sample = [cells for _number, cells in _take(shown, SAMPLE_ROWS)]
    if not layout.sample:
        # A file of one number has no header either: it is told so, not that it has one.
        raise FileProblem(header_refused(layout.headers) or _(
            "The file has a header row but no rows below it: there is nothing to add."))
    if refused := _title_refused(layout):
        raise FileProblem(refused)
    return layout


def _title_refused(layout: FileLayout) -> str:
    """Why the first row looks like a title above the header ("Lista klientów – marzec
    2026"), or "": it holds one value where every row below it holds more. Taken for the
    header, it made the file one column, and every row was refused for a separator."""
    filled = [cell for cell in layout.headers if cell]
    widths = [sum(1 for cell in cells if cell.strip()) for cells in layout.sample]
    if len(filled) != 1 or min(widths) < 2:
        return ""
    return str(_("The first row holds one value (%(value)s) where the rows below it hold "
                 "%(cells)d or more: if it is a title above the column names, delete it and "
                 "the blank rows under it, so that the column names are the first row, and "
                 "upload the file again.") % {"value": filled[0][:40], "cells": min(widths)})


def file_kind(content: bytes, file_name: str) -> str:
    """ "xlsx" or "csv"; raises FileProblem for empty, binary or old Excel files."""
    if _BLANK.fullmatch(content):
        raise FileProblem(_("The file is empty."))
    if content.startswith(_ZIP_MAGIC):
        if _ODF_MIMETYPE in content[:_SNIFF_BYTES]:
            raise FileProblem(
                _("This is an OpenDocument spreadsheet (.ods): save it as an Excel .xlsx "
                  "workbook or as CSV and upload that."))
        return "xlsx"
    if content.startswith(_OLE_MAGIC) and _ENCRYPTED_PACKAGE in content:
        raise FileProblem(
            _("This workbook is protected with a password, so the portal cannot read it: "
              "save a copy without the password and upload that."))
    if content.startswith(_OLE_MAGIC):
        raise FileProblem(
            _("This is an old Excel .xls file: save it as .xlsx or CSV and upload that.")
        )
    if file_name.lower().endswith((".xlsx", ".xlsm")):
        raise FileProblem(_("This file is named .xlsx but is not an Excel workbook."))
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "csv"  # Excel's "Unicode text", whose every other byte is a NUL
    if b"\x00" in content[:_SNIFF_BYTES]:
        raise FileProblem(
            _("This is not a text file: upload a CSV file or an Excel .xlsx workbook.")
        )
    return "csv"


def detect_encoding(content: bytes) -> str:
    """The encoding among those Polish Excel writes: UTF-8 if it decodes, else by letters."""
    if content.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _is_utf8(content):
        return "utf-8"
    # charset-normalizer calls Polish ISO-8859-2 text Windows-1250 (its letters are
    # plausible there too), so the bytes of the letters that differ decide instead.
    cp1250 = sum(content.count(byte) for byte in _CP1250_ONLY)
    iso = sum(content.count(byte) for byte in _ISO_ONLY)
    # With no telling letter both read the same; Windows-1250 is Polish Excel's own.
    return "iso-8859-2" if iso > cp1250 else "cp1250"


def _is_utf8(content: bytes) -> bool:
    """True if the bytes decode as UTF-8. Decoded piece by piece: the text of a whole 20 MB
    file took 37 MB more of the web process's memory at once."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(content), _SNIFF_BYTES):
            decoder.decode(content[start:start + _SNIFF_BYTES])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_delimiter(text: str) -> str:
    """The separator a first line "sep=;" names, else `;` if it splits each of the first
    lines (_SNIFFED_LINES) into as many cells, else `;`, `,`, tab or `|` as csv.Sniffer
    sees them, else the header's most."""
    lines = text[:_SNIFFED_CHARS].splitlines()
    if lines and (declared := _SEPARATOR_LINE.fullmatch(lines[0])):
        if declared[1] in DELIMITERS:
            return declared[1]
        lines = lines[1:]
    whole = lines[:-1] if len(lines) > 1 else lines  # the last may be cut
    sample = "\n".join(whole[:_SNIFFED_LINES])
    # Polish Excel's own separator first: the Sniffer takes `,` on a tie, and a header
    # "Imię, drugie imię" or amounts "12,50" split every line at commas as evenly.
    if _splits_evenly(sample, ";"):
        return ";"
    try:
        return csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        return max(DELIMITERS, key=header.count)


def _splits_evenly(sample: str, delimiter: str) -> bool:
    """True if the delimiter splits every line of the sample but blank ones into the same
    number of cells, two or more."""
    widths = {len(cells) for cells in csv.reader(io.StringIO(sample), delimiter=delimiter)
              if cells}
    return len(widths) == 1 and widths.pop() > 1


def read_rows(content: bytes, layout: FileLayout,
              blank_rows: int = 0) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells as text) for every non-blank row from the layout's header row
    on, the header first; of a workbook, of its sheet the layout names, which its first row
    notes in the layout, and with `blank_rows`, no further than that many empty rows in a
    row (raises FileProblem if they come right under the header)."""
    if layout.kind == "xlsx":
        return _from_header(_xlsx_rows(content, layout, blank_rows), layout)
    return _from_header(_csv_rows(content, layout.encoding, layout.delimiter), layout)


def _from_header(rows, layout):
    """The rows from the layout's header row on; without one, from the row `_header_at`
    finds among the first ones, noted in the layout."""
    if layout.header_row:
        yield from dropwhile(lambda row: row[0] < layout.header_row, rows)
        return
    first = list(_take(rows, MOST_TITLE_ROWS + 1 + SAMPLE_ROWS))
    at = _header_at([cells for _number, cells in first])
    layout.header_row = first[at][0] if first else 1
    yield from first[at:]
    yield from rows


def _header_at(rows: list[list[str]]) -> int:
    """Where the column names are among the file's first rows: the first row holding as
    many values as each of the SAMPLE_ROWS rows under it, those above it holding fewer (a
    title, its date, merged group names: taken for the names, they made every row too
    wide). The first row if none within MOST_TITLE_ROWS does, or if that row or one above
    it spells a phone number: a file of people without column names."""
    filled = [sum(1 for cell in cells if cell.strip()) for cells in rows]
    at = next((at for at in range(min(len(rows), MOST_TITLE_ROWS + 1))
               if filled[at] >= max(filled[at + 1:at + 1 + SAMPLE_ROWS], default=0)), 0)
    if any(header_refused(cells) for cells in rows[:at + 1]):
        return 0
    return at


def _csv_rows(content, encoding, delimiter):
    if encoding == "utf-16":
        content, encoding = _utf16_as_utf8(content), "utf-8"
    reader = csv.reader(_without_separator_line(_decoded_lines(content, encoding)),
                        delimiter=delimiter)
    number = 0
    try:
        for cells in reader:
            number += 1
            if any(cell.strip() for cell in cells):
                yield number, unquoted(cells)
    except csv.Error:
        # With every line end read as one, what is left for the reader to refuse is a cell
        # past its limit: one whose quote is never closed runs on to the end of the file.
        raise FileProblem(
            _("Row %(row)d cannot be read as CSV: a cell of it holds more than %(most)d "
              "characters, most often because a quote (\") opened in it is never closed.")
            % {"row": number + 1, "most": csv.field_size_limit()}
        ) from None


def _utf16_as_utf8(content: bytes) -> bytes:
    """The UTF-16 file as UTF-8, whose lines are read as any other file's: a UTF-16 line
    end is two bytes, and a byte of it may be half of another character. The file is
    decoded at once: Excel writes UTF-16 only when asked for "Unicode text", rarely."""
    try:
        return content.decode("utf-16").encode()
    except UnicodeDecodeError as error:
        line = content[:error.start].decode("utf-16", errors="replace").count("\n") + 1
        raise FileProblem(
            _("Line %(line)d is not valid %(encoding)s text: choose the file's encoding.")
            % {"line": line, "encoding": ENCODINGS["utf-16"]}
        ) from None


def _without_separator_line(lines: Iterator[str]) -> Iterator[str]:
    """The lines, without a first one naming the separator ("sep=;")."""
    first = next(lines, None)
    if first is not None and not _SEPARATOR_LINE.fullmatch(first):
        yield first
    yield from lines


def _decoded_lines(content, encoding):
    """The file's lines as text; line by line, so a wrong encoding names its line.

    A carriage return alone ends a line too, as in a file of old Mac line ends or one
    pasted together from two programs' (universal newlines): the CSV reader refused it in
    Python's English words. A NUL character, which no text file holds and PostgreSQL cannot
    store, is refused at its line: past the start of the file, which is checked apart, it
    failed the preview with a server error.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    # b"\n" and b"\r" are line ends in every accepted encoding and never part of another
    # character.
    for line_number, line in enumerate(_lines(content), 1):
        try:
            text = decoder.decode(line)
        except UnicodeDecodeError:
            raise FileProblem(
                _("Line %(line)d is not valid %(encoding)s text: choose the file's encoding.")
                % {"line": line_number, "encoding": ENCODINGS.get(encoding, encoding)}
            ) from None
        if "\x00" in text:
            raise FileProblem(
                _("Line %(line)d holds a NUL character, which a text file never does: save "
                  "the file from Excel again as CSV.") % {"line": line_number})
        yield text


def _lines(content: bytes) -> Iterator[bytes]:
    """The file's lines, each with its line end: a line feed, a carriage return and line
    feed, or a carriage return alone."""
    for line in io.BytesIO(content):
        if b"\r" in line.rstrip(b"\n")[:-1]:  # a CR before the line's own end
            yield from filter(None, _AFTER_LONE_CR.split(line))
        else:
            yield line


# A carriage return not followed by a line feed: where the line it ends ends.
_AFTER_LONE_CR = re.compile(rb"(?<=\r)(?!\n)")


def _xlsx_rows(content, layout, blank_rows):
    try:
        book = open_workbook(content)
    except WorkbookRefused as refused:
        raise FileProblem(refused.message) from None
    except Exception:  # openpyxl raises many kinds for a damaged or foreign zip file
        raise FileProblem(_("This file cannot be read as an Excel .xlsx workbook.")) from None
    number = 0
    try:
        # One more than read, to tell a too-wide sheet.
        width = settings.IMPORT_MAX_COLUMNS + 1
        sheet = _sheet(book, layout.sheet)
        layout.sheet = sheet.title
        layout.sheets = {each.title: each.sheet_state == "visible" for each in book.worksheets}
        layout.hidden_columns = hidden_columns(sheet)
        read = blank = 0
        for number, cells in sheet_rows(sheet, width=width):
            while cells and not cells[-1]:
                cells.pop()  # cells that hold only a style
            if any(cell.strip() for cell in cells):
                read, blank = read + 1, 0
                yield number, cells
            elif (blank := blank + 1) == blank_rows:
                if read == 1:
                    raise FileProblem(_(
                        "The %(count)s rows under the header are empty, so the portal "
                        "looks no further: delete the empty rows under the header and "
                        "upload the file again.") % {
                            "count": number_format(blank_rows, force_grouping=True)})
                return
    except WorkbookRefused as refused:
        raise FileProblem(refused.message) from None
    except FileProblem:
        raise
    except Exception:  # a damaged sheet shows only while it is read
        raise FileProblem(
            _("Row %(row)d of the workbook cannot be read.") % {"row": number + 1}
        ) from None
    finally:
        book.close()


def workbook_rows(content: bytes) -> Iterator[list[str]]:
    """The cells of every row of every sheet of the workbook, hidden ones too: what an
    erasure searches, as the file holds a number wherever a sheet has it."""
    book = open_workbook(content)
    try:
        for sheet in book.worksheets:
            for _number, cells in sheet_rows(sheet):
                yield cells
    finally:
        book.close()


def _sheet(book, name: str):
    """The workbook's sheet of that name, or for none its first visible one that holds rows:
    never the one it was saved on, which was read while the page said the first was, nor a
    hidden first sheet (lookup lists, say). Raises FileProblem for a name it has no sheet
    of, or for none when no visible sheet of several holds rows."""
    if name:
        sheet = next((sheet for sheet in book.worksheets if sheet.title == name), None)
        if sheet is None:
            raise FileProblem(_("The workbook has no sheet named “%(sheet)s”.")
                              % {"sheet": name[:40]})
        return sheet
    # A chart's sheet has no rows: book.worksheets leaves it out.
    visible = [sheet for sheet in book.worksheets if sheet.sheet_state == "visible"]
    if len(visible) < 2:
        return (visible or book.worksheets)[0]
    # A CRM's export may open on an empty sheet, or one of instructions.
    sheet = next((sheet for sheet in visible if _holds_rows(sheet)), None)
    if sheet is None:
        names = ", ".join(_("“%(header)s”") % {"header": each.title[:40]} for each in visible)
        raise FileProblem(_("No sheet of this workbook has a row under its first one, so there "
                            "is nothing to add (its sheets: %(sheets)s): put the column names "
                            "and the rows on one sheet and upload the file again.")
                          % {"sheets": names})
    return sheet


def _holds_rows(sheet) -> bool:
    """True if the sheet has two rows holding a value (column names and a row under them)
    within its first SAMPLE_BLANK_ROWS rows."""
    rows = _take(sheet_rows(sheet, width=settings.IMPORT_MAX_COLUMNS), SAMPLE_BLANK_ROWS)
    held = (number for number, cells in rows if any(cell.strip() for cell in cells))
    return len(list(_take(held, 2))) == 2


def _take(iterator, count):
    for _index, item in zip(range(count), iterator, strict=False):
        yield item
