"""Exported CSV is data in Excel, never a formula."""

import csv
import io

import pytest

from portal.spreadsheets import FORMULA_STARTS, csv_lines, safe_cell, unquoted


@pytest.mark.parametrize("typed", [
    "=HYPERLINK(\"http://evil.example\",\"click\")", "+1+cmd|' /C calc'!A0", "-2+3",
    "@SUM(A1:A2)", "\t=1+1",
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


def pieces_at_commas(text: str) -> list[str]:
    """The cells of Excel splitting a .csv at commas (English regional settings): rows
    break at every line break, and the file's ";" and quotes are part of the cells."""
    return [cell for row in csv.reader(text.splitlines(), delimiter=",") for cell in row]


AT_COMMAS = [
    ("Seasonal,=2+5,", "Seasonal,'=2+5,"), ("a,+1,-2,@SUM(A1)", "a,'+1,'-2,'@SUM(A1)"),
    ('a,"=2+5', 'a,"\'=2+5'), ("note\n=2+5", "note\n'=2+5"), ("x\r\n-1", "x\r\n'-1"),
    ("a,\t=1", "a,'\t=1"), ("\r=1", "'\r'=1"), ("ok, fine", "ok, fine"),
    ('{"a": 1, "b": "x"}', '{"a": 1, "b": "x"}'),
]


@pytest.mark.parametrize(("typed", "written"), AT_COMMAS)
def test_no_piece_a_reader_splitting_at_commas_sees_starts_a_formula(typed, written):
    assert safe_cell(typed) == written
    text = "".join(csv_lines([["id", typed, "end"]]))
    assert not any(piece.startswith(FORMULA_STARTS) for piece in pieces_at_commas(text))
    assert list(csv.reader(io.StringIO(text, newline=""), delimiter=";")) == [
        ["id", written, "end"]]


@pytest.mark.parametrize(("typed", "written"), AT_COMMAS)
def test_a_file_the_portal_wrote_reads_back_without_its_quotes(typed, written):
    assert unquoted([written]) == [typed]
