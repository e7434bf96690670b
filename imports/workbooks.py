"""Opening an .xlsx workbook for reading its rows: openpyxl's read-only workbook, whose
shared strings are read as the rows need them, and whose parts are read only as far as a
workbook a spreadsheet program wrote could need.

openpyxl reads a workbook's whole shared-string table before its first row: some 8
seconds and 190 MB for a workbook of 400,000 rows of text, where the mapping page needs
four rows.
Excel writes the table in the order the strings are first used, so the first rows need
only its start. Everything else (cell types, dates, styles) is openpyxl's own reading.

A workbook is a ZIP archive, and its XML compresses a thousandfold when it repeats
itself: 103 KB held a first cell of 100 million characters (1.28 GB of the web process to
read), 21 KB held 200,000 rows. So a workbook may unpack to no more XML than the rows of
the largest CSV file take at most (`largest_unpacked`), as the archive's directory states each
part's size: zipfile never gives more of a part than that, whatever its data holds. And
as openpyxl holds a whole row, a whole shared string and, till the end of a sheet, every
element outside its cells, each part's XML is read through `_Guard` first, which refuses
what no spreadsheet program writes before openpyxl is given it.
"""

import io
import pyexpat
import zipfile
from collections.abc import Iterator

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from openpyxl.cell.text import Text
from openpyxl.reader.excel import ExcelReader
from openpyxl.workbook import Workbook
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse

_STRING = f"{{{SHEET_MAIN_NS}}}si"
# The XML of a workbook's rows against the same rows as CSV: 5.3 as Excel writes them
# (shared strings), 6.2 as openpyxl does (text inline), for rows of four columns of text;
# up to 16.3 for rows of short cells (twenty columns of "tak"/"nie"), each cell's markup
# some 25 bytes against a CSV cell's two.
XML_PER_CSV_BYTE = 6
MOST_XML_PER_CSV_BYTE = 20
# Excel's own limit on a cell's text.
MAX_TEXT = 32_767
# A row of the sheet, or a string of the shared-string table, openpyxl holds whole: a
# dozen cells of Excel's longest text. 1 MB of empty cells took openpyxl some 80 MB.
MAX_RECORD_BYTES = 2 * 1024 * 1024
# The rows an Excel sheet holds. openpyxl yields the rows a sheet skips as empty ones: a
# single row numbered a billion would be a billion rows.
EXCEL_ROWS = 1_048_576
# Elements outside the rows' cells (the rows themselves too), which openpyxl keeps till
# the end of the sheet, some 100 bytes each.
MAX_ELEMENTS = 2 * EXCEL_ROWS
_RECORDS = {"row", "si"}
_XML_STARTS = (b"<", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
# What may come before an XML part's first "<": spaces and line ends, in UTF-8 or in
# UTF-16 (whose every other byte is a NUL).
_BEFORE_XML = b" \t\r\n\x00"
_PIECE = 64 * 1024


class WorkbookRefused(Exception):
    """The workbook holds more than a spreadsheet program writes, and reading it would
    take the portal's memory or time; the message says why, for the user."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def largest_unpacked() -> int:
    """The most XML a workbook may unpack to: what the rows of the largest CSV file take at
    most (at six times, honest workbooks of many short cells were refused)."""
    return MOST_XML_PER_CSV_BYTE * settings.IMPORT_MAX_FILE_SIZE


def unpacked_size(content: bytes) -> int:
    """What the workbook's parts unpack to, as its archive's directory states; raises
    zipfile.BadZipFile for no archive."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return sum(part.file_size for part in archive.infolist())


def open_workbook(content: bytes) -> Workbook:
    """The workbook, read-only, each formula's value as its file saved it (as
    `openpyxl.load_workbook` opens it with read_only=True, data_only=True); raises
    WorkbookRefused for one that unpacks to too much, else what openpyxl raises for a file
    it cannot read."""
    unpacked = unpacked_size(content)
    if unpacked > largest_unpacked():
        raise WorkbookRefused(
            _("This workbook unpacks to %(size)s; the portal reads workbooks of at most "
              "%(max)s unpacked (the rows of a CSV file of %(file_max)s): save it as CSV, "
              "or split it.")
            % {"size": filesizeformat(unpacked), "max": filesizeformat(largest_unpacked()),
               "file_max": filesizeformat(settings.IMPORT_MAX_FILE_SIZE)})
    reader = _Reader(io.BytesIO(content), read_only=True, data_only=True)
    reader.archive.close()
    reader.archive = _Archive(io.BytesIO(content))
    reader.read()
    return reader.wb


class _Reader(ExcelReader):
    def read_strings(self):
        part = self.package.find(SHARED_STRINGS)
        if part is not None:
            self.shared_strings = _StringsAsNeeded(self.archive.open(part.PartName[1:]))


class _StringsAsNeeded:
    """A shared-string table read up to the highest index asked for so far, as openpyxl's
    `read_string_table` reads each string."""

    def __init__(self, source):
        self._unread: Iterator[str] = self._strings(source)
        self._read: list[str] = []

    def __getitem__(self, index: int) -> str:
        while len(self._read) <= index:
            try:
                self._read.append(next(self._unread))
            except StopIteration:
                raise IndexError(f"no shared string {index}") from None
        return self._read[index]

    @staticmethod
    def _strings(source) -> Iterator[str]:
        with source:
            nodes = iterparse(source, events=("start", "end"))
            _event, table = next(nodes)
            for event, node in nodes:
                if event == "end" and node.tag == _STRING:
                    text = Text.from_tree(node).content.replace("x005F_", "")
                    # The strings read live on in the list alone, not in the table's tree
                    # too (a million empty elements took some 80 MB).
                    table.clear()
                    yield text


class _Archive(zipfile.ZipFile):
    """The workbook's archive, each of whose XML parts is read through a `_Guard`."""

    def open(self, name, mode="r", pwd=None, **kwargs):
        part = super().open(name, mode, pwd, **kwargs)
        return _Guard(part) if mode == "r" else part


class _Guard(io.IOBase):
    """A part of the workbook, whose XML is parsed as it is read, before its reader is
    given it: raises WorkbookRefused at a text longer than Excel's, a row or shared
    string of more than MAX_RECORD_BYTES, a piece of markup as long, more than
    MAX_ELEMENTS elements outside the cells, or a DTD (whose entities multiply a text,
    and which no workbook has), or XML it cannot parse, which openpyxl would read on
    unguarded. A part that is no XML (an image) is given as it is."""

    def __init__(self, part):
        super().__init__()
        self._part = part
        self._started = False
        self._fed = self._event = self._text = self._elements = self._inner = 0
        self._record_at = None  # where the row or string being read began
        self._parser = self._new_parser()

    def readable(self):
        return True

    def read(self, size=-1):
        data = self._part.read(size)
        # Judged by what comes after the whitespace, however much of it comes first
        # (openpyxl's reader skips it): a sheet led by a hundred spaces went unguarded.
        # The parser is given every byte, as openpyxl's is: given what came after the
        # first byte of a UTF-16 space, it read the sheet a byte off.
        if not self._started and (shown := data.lstrip(_BEFORE_XML)):
            self._started = True
            if not shown.startswith(_XML_STARTS):
                self._parser = None
        if self._parser is not None:
            for start in range(0, len(data), _PIECE):
                self._feed(data[start:start + _PIECE])
        return data

    def close(self):
        self._part.close()
        super().close()

    def _new_parser(self):
        parser = pyexpat.ParserCreate(namespace_separator=" ")
        parser.buffer_text = True
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._characters
        parser.StartDoctypeDeclHandler = self._doctype
        parser.CommentHandler = parser.ProcessingInstructionHandler = self._other
        return parser

    def _feed(self, piece):
        try:
            self._parser.Parse(piece, False)
        except pyexpat.ExpatError:
            raise WorkbookRefused(_("This workbook's XML is damaged or not as a spreadsheet "
                                    "program writes it, so the portal does not read it: save "
                                    "it again from Excel, or as CSV.")) from None
        self._fed += len(piece)
        # A row or string, or else a tag or comment, still unread that far.
        since = self._event if self._record_at is None else self._record_at
        if self._fed - since > MAX_RECORD_BYTES:
            self._refuse()

    # Outside a row or string: every element counted, and where the parser is noted.

    def _start(self, name, _attributes):
        self._event = self._parser.CurrentByteIndex
        self._text = 0
        local_name = name.rpartition(" ")[2]
        if local_name in _RECORDS:
            self._record_at = self._event
            self._parser.StartElementHandler = self._start_inside
            self._parser.EndElementHandler = self._end_inside
        if local_name != "si":  # read and dropped one by one (_StringsAsNeeded)
            self._elements += 1
            if self._elements > MAX_ELEMENTS:
                self._refuse()

    def _end(self, _name):
        self._event = self._parser.CurrentByteIndex
        self._text = 0

    def _other(self, *_values):
        self._event = self._parser.CurrentByteIndex

    # Inside a row or string: its size is checked as it is fed (_feed), and at its end.

    def _start_inside(self, _name, _attributes):
        self._inner += 1
        self._text = 0

    def _end_inside(self, name):
        self._text = 0
        if self._inner:
            self._inner -= 1
            return
        if self._parser.CurrentByteIndex - self._record_at > MAX_RECORD_BYTES:
            self._refuse()  # read whole within what was fed last
        self._record_at = None
        self._parser.StartElementHandler = self._start
        self._parser.EndElementHandler = self._end
        self._end(name)

    def _characters(self, text):
        self._text += len(text)
        if self._text > MAX_TEXT:
            self._refuse()
        if self._record_at is None:
            self._event = self._parser.CurrentByteIndex

    def _doctype(self, *_values):
        self._refuse()

    @staticmethod
    def _refuse():
        raise WorkbookRefused(not_a_spreadsheet())


def not_a_spreadsheet() -> str:
    """Why a workbook holding more than a spreadsheet program writes is not read."""
    return _("This workbook holds more than a spreadsheet program writes (a cell of over "
             "%(text)s characters, a row of over %(row)s, or over %(rows)s rows), so the "
             "portal does not read it: save it again from Excel, or as CSV.") % {
                 "text": number_format(MAX_TEXT, force_grouping=True),
                 "row": filesizeformat(MAX_RECORD_BYTES),
                 "rows": number_format(EXCEL_ROWS, force_grouping=True)}
