"""CSV the portal hands out, safe to open in Excel: no cell is ever read as a formula.

A phone number or a note typed as "=HYPERLINK(...)" or "+1+cmd|..." would otherwise run
as a formula on the reader's machine (CSV injection). Exports must write through here.
"""

import csv

# Excel, LibreOffice and Google Sheets start a formula with any of these.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """The value as text; a leading quote makes a would-be formula plain text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(stream, rows) -> None:
    """Write rows of values to `stream` as CSV, every cell made safe."""
    writer = csv.writer(stream)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
