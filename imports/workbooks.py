"""Opening an .xlsx workbook for reading its rows: openpyxl's read-only workbook, whose
shared strings are read as the rows need them.

openpyxl reads a workbook's whole shared-string table before its first row: some 8
seconds and 190 MB for a workbook of 400,000 rows of text, where the mapping page needs
four rows.
Excel writes the table in the order the strings are first used, so the first rows need
only its start. Everything else (cell types, dates, styles) is openpyxl's own reading.
"""

import io
from collections.abc import Iterator

from openpyxl.cell.text import Text
from openpyxl.reader.excel import ExcelReader
from openpyxl.workbook import Workbook
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse

_STRING = f"{{{SHEET_MAIN_NS}}}si"


def open_workbook(content: bytes) -> Workbook:
    """The workbook, read-only, formulas as written (as `openpyxl.load_workbook` opens it
    with read_only=True); raises what openpyxl raises for a file it cannot read."""
    reader = _Reader(io.BytesIO(content), read_only=True, data_only=False)
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
