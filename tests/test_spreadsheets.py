"""Exported CSV is data in Excel, never a formula."""

import csv
import io

import pytest

from portal.spreadsheets import csv_lines, safe_cell


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


def test_a_phone_number_with_its_plus_stays_text_with_every_digit():
    # Unquoted, a spreadsheet would read the number 48601234567, without its plus.
    assert safe_cell("+48601234567") == "'+48601234567"


def test_the_csv_reads_back_as_the_safe_cells():
    text = "".join(csv_lines([["phone", "note"], ["+48601234567", "=1+1; \"quoted\""]],
                             delimiter=";"))
    assert list(csv.reader(io.StringIO(text), delimiter=";")) == [
        ["phone", "note"], ["'+48601234567", "'=1+1; \"quoted\""],
    ]
