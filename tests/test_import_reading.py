"""Files as Polish Excel writes them are read right; files that cannot be read say why."""

import io
import tracemalloc
import zipfile

import openpyxl
import pytest
from openpyxl.cell.text import Text
from openpyxl.chart import BarChart, Reference
from openpyxl.worksheet.formula import ArrayFormula

from imports.reading import FileLayout, FileProblem, detect_layout, read_rows
from tests.import_files import HEADER, csv_bytes, excel_xlsx_bytes, xlsx_bytes

ROWS = [["601234567", "Zażółć", "Gęślą", "Jaźń"], ["22 555-66-77", "Świętosław", "Źdźbło", "Łódź"]]


@pytest.mark.parametrize(("encoding", "bom", "expected"), [
    ("utf-8", True, "utf-8-sig"),
    ("utf-8", False, "utf-8"),
    ("cp1250", False, "cp1250"),
    ("iso-8859-2", False, "iso-8859-2"),
])
def test_polish_letters_are_read_in_every_encoding_excel_writes(encoding, bom, expected):
    layout = detect_layout(csv_bytes(ROWS, encoding=encoding, bom=bom), "leady.csv")
    assert layout.encoding == expected
    assert layout.headers == HEADER
    assert layout.sample == ROWS


def test_the_encoding_is_told_from_the_whole_file_read_piece_by_piece():
    """A letter split between two pieces of the reading is still UTF-8; a Windows-1250
    letter far into the file still tells."""
    start = b"Telefon;Imie;Nazwisko;Miasto\r\n" + b"601234567;Jan;Nowak;x\r\n" * 2800
    before = b"601234567;Zofia;Nowak;"  # then "Ł", its two bytes at 65535 and 65536
    name = b"J" * (65535 - len(start) - len(before) - len(b"601234567;;Nowak;x\r\n"))
    split = start + b"601234567;" + name + b";Nowak;x\r\n" + before + "Łódź\r\n".encode()
    assert split[65535:65537] == "Ł".encode()
    assert detect_layout(split, "leady.csv").encoding == "utf-8"
    late = start + before + "Łódź\r\n".encode("cp1250")
    assert detect_layout(late, "leady.csv").encoding == "cp1250"


def test_a_file_is_read_for_its_layout_without_a_copy_of_it():
    """A 20 MB upload: a stripped copy, then the text of the whole file, took 37 MB more of
    the web process at once."""
    content = csv_bytes(ROWS * 50_000)  # 4.7 MB, Polish letters in UTF-8
    tracemalloc.start()
    try:
        layout = detect_layout(content, "leady.csv")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert layout.encoding == "utf-8"
    assert peak < 1_000_000


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_the_separator_is_detected(delimiter):
    layout = detect_layout(csv_bytes(ROWS, delimiter=delimiter), "leady.csv")
    assert layout.delimiter == delimiter
    assert layout.sample[1] == ROWS[1]


def test_quoted_cells_may_hold_the_separator_and_line_breaks():
    content = 'Telefon;Uwagi\r\n601234567;"dzwonić po 16; pilne"\r\n602000000;"dwie\r\nlinie"\r\n'
    layout = detect_layout(content.encode(), "leady.csv")
    rows = list(read_rows(content.encode(), layout))
    assert rows[1] == (2, ["601234567", "dzwonić po 16; pilne"])
    assert rows[2] == (3, ["602000000", "dwie\r\nlinie"])


def test_blank_lines_are_skipped_but_keep_the_row_numbers():
    content = b"Telefon;Imie\r\n601234567;Jan\r\n\r\n;\r\n602000000;Ewa\r\n"
    layout = detect_layout(content, "leady.csv")
    assert [number for number, _cells in read_rows(content, layout)] == [1, 2, 5]


def test_an_xlsx_workbook_is_read_with_numbers_and_dates_as_text():
    import datetime

    content = xlsx_bytes([[601234567, "Zofia", datetime.datetime(2026, 5, 24, 12, 24), 3.0]],
                         header=["Telefon", "Imię", "Termin", "Kolejność"])
    layout = detect_layout(content, "leady.xlsx")
    assert (layout.kind, layout.encoding, layout.delimiter) == ("xlsx", "", "")
    assert layout.sample == [["601234567", "Zofia", "2026-05-24 12:24", "3"]]


def test_an_xlsx_formula_is_read_as_its_text_never_evaluated():
    content = xlsx_bytes([["=600000000+1", "Zofia"]], header=["Telefon", "Imię"])
    layout = detect_layout(content, "leady.xlsx")
    assert layout.sample == [["=600000000+1", "Zofia"]]


def test_an_xlsx_array_formula_is_read_as_its_text():
    book = openpyxl.Workbook()
    book.active.append(["Telefon", "Imię"])
    book.active.append(["601234567", "Zofia"])
    book.active["B2"] = ArrayFormula("B2", "=UPPER(A2)")
    layout = detect_layout(workbook_bytes(book), "leady.xlsx")
    assert layout.sample == [["601234567", "=UPPER(A2)"]]


def test_the_sheet_excel_opens_at_is_read_not_a_hidden_first_one():
    book = openpyxl.Workbook()
    lists = book.active
    lists.title, lists.sheet_state = "Słowniki", "hidden"
    lists.append(["Kod", "Opis"])
    book.create_sheet("Leady").append(["Telefon", "Imię"])
    book["Leady"].append(["601234567", "Zofia"])
    book.active = 1
    assert detect_layout(workbook_bytes(book), "leady.xlsx").headers == ["Telefon", "Imię"]
    book.active = 0  # saved with the hidden sheet active: the first visible one
    assert detect_layout(workbook_bytes(book), "leady.xlsx").headers == ["Telefon", "Imię"]


def test_a_workbook_saved_with_a_chart_open_is_read_from_its_data_sheet():
    book = openpyxl.Workbook()
    data = book.active
    for row in [["Telefon", "Imię"], ["601234567", "Jan"], ["602234567", "Ewa"]]:
        data.append(row)
    chart = BarChart()
    chart.add_data(Reference(data, min_col=1, min_row=1, max_row=3))
    book.create_chartsheet("Wykres").add_chart(chart)
    book.active = 1  # the chart's tab
    layout = detect_layout(workbook_bytes(book), "leady.xlsx")
    assert layout.headers == ["Telefon", "Imię"]


def test_a_number_past_excel_s_15_digits_reads_as_excel_shows_it_not_with_made_up_digits():
    """Excel kept 1.23456789012346E+18 of an identifier: as a whole number it came out as
    1234567890123460096, digits no one typed. As Excel shows it, the form refuses it."""
    book = openpyxl.Workbook()
    book.active.append(["Telefon", "Identyfikator"])
    book.active.append([601234567.0, 1.23456789012346e18])
    layout = detect_layout(workbook_bytes(book), "leady.xlsx")
    assert layout.sample == [["601234567", "1.23456789012346E+18"]]


def workbook_bytes(book) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_a_workbook_s_first_rows_are_read_without_its_whole_string_table(monkeypatch):
    """openpyxl read every string of a workbook before its first row: for the mapping page
    of a 400,000-row workbook, 16 seconds and 200 MB more."""
    rows = [[f"60{n:07d}", f"Kowalska-{n}"] for n in range(2000)]
    content = excel_xlsx_bytes(rows, header=["Telefon", "Nazwisko"])
    strings_read = []
    read_string = Text.from_tree
    monkeypatch.setattr(Text, "from_tree", lambda node: strings_read.append(1) or read_string(node))

    layout = detect_layout(content, "leady.xlsx")

    assert layout.headers == ["Telefon", "Nazwisko"] and layout.sample == rows[:3]
    assert len(strings_read) < 20  # of 4,002
    assert [cells for _number, cells in read_rows(content, layout)][1:] == rows


def test_a_workbook_stating_too_small_a_size_still_gives_every_cell():
    """Its rows were read as wide and as many as it stated: cells and rows past it were
    lost without a word."""
    content = excel_xlsx_bytes(ROWS * 2, stated_size="A1:B2")
    assert [cells for _number, cells in read_rows(content, FileLayout(kind="xlsx"))] == [
        HEADER, *ROWS * 2]


def ods_bytes() -> bytes:
    """An OpenDocument spreadsheet's start as LibreOffice writes it: its type, stored first."""
    content = io.BytesIO()
    with zipfile.ZipFile(content, "w") as ods:
        ods.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet",
                     compress_type=zipfile.ZIP_STORED)
        ods.writestr("content.xml", "<office:document-content/>")
    return content.getvalue()


def encrypted_xlsx_bytes() -> bytes:
    """An OLE compound file whose directory names the EncryptedPackage stream, as Excel's
    "Encrypt with Password" writes (the header, then the directory sector's first entry)."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    name = "EncryptedPackage".encode("utf-16-le")
    return header + name + bytes(128 - len(name)) + bytes(1024)


@pytest.mark.parametrize(("content", "name", "says"), [
    (b"", "leady.csv", "The file is empty."),
    (b"\xef\xbb\xbf\r\n  \r\n", "leady.csv", "The file is empty."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "leady.csv", "This is not a text file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "leady.xls", "old Excel .xls file"),
    (b"Telefon;Imie\r\n601234567;Jan\r\n", "leady.xlsx", "named .xlsx but is not"),
    (b"PK\x03\x04 certainly not a workbook", "leady.xlsx", "cannot be read as an Excel"),
    # LibreOffice's own format, and a workbook saved with a password: both were told they
    # were no workbook, or an old .xls.
    (ods_bytes(), "leady.ods", "OpenDocument spreadsheet (.ods)"),
    (encrypted_xlsx_bytes(), "leady.xlsx", "protected with a password"),
    (b"Telefon;Imie;Nazwisko\r\n", "leady.csv", "header row but no rows below it"),
    # Excel's "Unicode text": it was called no text file.
    ("Telefon\tImię\r\n601234567\tZofia\r\n".encode("utf-16"), "leady.txt",
     "saved as Unicode text (UTF-16)"),
])
def test_files_that_cannot_be_imported_say_why(content, name, says):
    with pytest.raises(FileProblem) as problem:
        detect_layout(content, name)
    assert says in str(problem.value.message)


def test_a_header_of_ten_thousand_columns_is_refused(settings):
    header = [f"kolumna {n}" for n in range(10_000)]
    with pytest.raises(FileProblem) as problem:
        detect_layout(csv_bytes([["1"] * 10_000], header=header), "szeroki.csv")
    assert "10000 columns; the portal reads at most 200" in str(problem.value.message)


def test_a_file_of_old_mac_line_ends_is_read_as_lines():
    content = b"Telefon;Imie\r601000001;Jan\r601000002;Ewa\r"
    layout = detect_layout(content, "leady.csv")
    assert [cells for _number, cells in read_rows(content, layout)] == [
        ["Telefon", "Imie"], ["601000001", "Jan"], ["601000002", "Ewa"]]


def test_a_nul_character_past_the_start_of_the_file_is_refused_at_its_line():
    rows = [[str(601000001 + n), "Jan"] for n in range(5000)] + [["601009999", "J\x00an"]]
    content = csv_bytes(rows, header=["Telefon", "Imie"])
    layout = detect_layout(content, "leady.csv")
    with pytest.raises(FileProblem) as problem:
        list(read_rows(content, layout))
    assert "Line 5002 holds a NUL character" in str(problem.value.message)


def test_a_wrong_encoding_chosen_by_the_user_is_reported_with_the_row():
    content = csv_bytes([["601000000", "Jan"], ["603000000", "Świętosław"]],
                        header=["Telefon", "Imie"], encoding="cp1250")
    layout = FileLayout(kind="csv", encoding="utf-8", delimiter=";")
    with pytest.raises(FileProblem) as problem:
        list(read_rows(content, layout))
    assert "Line 3 is not valid UTF-8 text" in str(problem.value.message)
