"""Exported CSV is data in Excel, never a formula."""

import csv
import io

import pytest

from portal.spreadsheets import safe_cell, write_csv


@pytest.mark.parametrize("typed", [
    "=HYPERLINK(\"http://evil.example\",\"click\")", "+1+cmd|' /C calc'!A0", "-2+3",
    "@SUM(A1:A2)", "\t=1+1", "\r=1+1",
])
def test_a_would_be_formula_is_written_as_plain_text(typed):
    assert safe_cell(typed) == "'" + typed


@pytest.mark.parametrize("value, written", [
    ("Zofia", "Zofia"), (225556677, "225556677"), (None, ""), ("a=b", "a=b"), ("", ""),
])
def test_ordinary_values_are_written_unchanged(value, written):
    assert safe_cell(value) == written


def test_the_csv_reads_back_as_the_safe_cells():
    stream = io.StringIO()
    write_csv(stream, [["phone", "note"], ["+48601234567", "=1+1, \"quoted\""]])
    assert list(csv.reader(io.StringIO(stream.getvalue()))) == [
        ["phone", "note"], ["'+48601234567", "'=1+1, \"quoted\""],
    ]
