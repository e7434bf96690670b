"""CSV the portal hands out, safe to open in Excel: no cell is ever read as a formula; and
what Excel does to the numbers of the files it hands in.

A phone number or a note typed as "=HYPERLINK(...)" or "+1+cmd|..." would otherwise run
as a formula on the reader's machine (CSV injection). Every CSV the portal writes (the
audit export, an import's report) makes its cells safe with `safe_cell`. The files are
split at ";", but Excel splits a .csv at its regional list separator, "," in English
settings, and breaks rows at line breaks inside a cell: each piece is a cell then, and
"Seasonal,=2+5" holds a formula.
"""

import csv
import re
from collections.abc import Iterable, Iterator

# Excel, LibreOffice and Google Sheets start a formula with any of these.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A comma or line break inside a cell, and any quotes after it (a reader splitting at
# commas reads `""=1` as `=1`), before a would-be formula: `safe_cell` puts its quote after
# them. The same pattern serves PostgreSQL (audit.export); its last class is FORMULA_STARTS.
FORMULA_AFTER_A_BREAK = r'([,\n\r]"*)(?=[-=+@\t\r])'
_FORMULA_AFTER_A_BREAK = re.compile(FORMULA_AFTER_A_BREAK)
_MARK_AFTER_A_BREAK = re.compile(r'([,\n\r]"*)\'(?=[-=+@\t\r])')
# A long number in a cell not formatted as text, as Excel shows it and saves it to CSV:
# six significant digits and an exponent ("4,86012E+11" in Polish, "4.86012E+11"); the
# other digits are lost.
EXCEL_SCIENTIFIC = re.compile(r"[0-9](?:[.,][0-9]+)?E\+[0-9]{2,}")
# A whole number as a program that took it for a decimal writes it: "1234567891.0" from
# pandas, "1234567890,00" from a cell formatted with decimals.
AS_DECIMAL = re.compile(r"[0-9]+[.,]0+")


def safe_cell(value) -> str:
    """The value as text; a quote makes a would-be formula plain text, at its start and
    after each comma or line break in it.

    Numbers with a sign get it too: "+48601234567" stays text, with its plus and every
    digit, where a spreadsheet would read the number 48601234567 (and show a longer one
    as 4.86E+11).
    """
    text = _FORMULA_AFTER_A_BREAK.sub(r"\1'", "" if value is None else str(value))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


# The characters `safe_cell` puts a quote before, and takes it off before again.
_QUOTED = frozenset(FORMULA_STARTS)


def unquoted(cells: list[str]) -> list[str]:
    """A row of a CSV file the portal may have written, without the quotes `safe_cell` put
    before a would-be formula: its rows to fix and its do-not-call list, uploaded again,
    were refused for them ("'+48 601 000 004"), or would have sent them to Thulium."""
    return [_MARK_AFTER_A_BREAK.sub(r"\1", cell[1:] if cell[:1] == "'" and cell[1:2] in _QUOTED
                                    else cell) for cell in cells]


def csv_lines(rows: Iterable[Iterable], *, delimiter: str = ";") -> Iterator[str]:
    """Each row of values as a line of CSV, every cell made safe, for a streamed download;
    separated by ";" by default, as Polish Excel (its list separator) splits the cells."""
    writer = csv.writer(Echo(), delimiter=delimiter)
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


class Echo:
    """A file that hands back what is written, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value
