"""Files as Polish Excel writes them are read right; files that cannot be read say why."""

import codecs
import csv
import datetime
import io
import re
import tracemalloc
import zipfile

import openpyxl
import pytest
from openpyxl.cell.text import Text
from openpyxl.chart import BarChart, Reference
from openpyxl.worksheet.formula import ArrayFormula

from imports import sheets, workbooks
from imports.reading import FileLayout, FileProblem, detect_layout, read_rows
from imports.sheets import ExcelError
from tests.import_files import (
    HEADER,
    csv_bytes,
    excel_xlsx_bytes,
    long_first_cell_xlsx,
    sheet_patched,
    size_stated,
    streamed_xlsx,
    xlsx_bytes,
)

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


def test_the_separator_is_guessed_from_the_first_lines_alone(monkeypatch):
    """csv.Sniffer takes time as the square of the quotes it is given: given the first
    64 KiB of this 63 KiB file, it held the web process for 248 s."""
    sniffed = []

    def sniff(_sniffer, sample, delimiters=None):
        sniffed.append(sample)
        raise csv.Error("not sniffed: only what it is given is looked at")

    monkeypatch.setattr(csv.Sniffer, "sniff", sniff)
    layout = detect_layout(b"Telefon;Imie\n" + b"'\n" * 32000, "leady.csv")
    assert layout.delimiter == ";"
    [sample] = sniffed
    assert sample.startswith("Telefon;Imie\n'\n")
    assert len(sample.splitlines()) <= 11
    assert len(sample) <= 2048


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


def test_a_semicolon_file_with_commas_in_its_header_and_amounts_is_split_at_semicolons():
    """csv.Sniffer takes a comma on a tie: every line held one, and the file was read as two
    columns, "Telefon;Imię" and " drugie imię;Nazwisko;Kwota"."""
    content = csv_bytes([["601000001", "Jan", "Kowalski", "12,50"],
                         ["601000002", "Ewa", "Nowak", "13,50"]],
                        header=["Telefon", "Imię, drugie imię", "Nazwisko", "Kwota"],
                        encoding="cp1250")
    layout = detect_layout(content, "leady.csv")
    assert layout.delimiter == ";"
    assert layout.headers == ["Telefon", "Imię, drugie imię", "Nazwisko", "Kwota"]


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
    content = xlsx_bytes([[601234567, "Zofia", datetime.datetime(2026, 5, 24, 12, 24), 3.0]],
                         header=["Telefon", "Imię", "Termin", "Kolejność"])
    layout = detect_layout(content, "leady.xlsx")
    assert (layout.kind, layout.encoding, layout.delimiter) == ("xlsx", "", "")
    assert layout.sample == [["601234567", "Zofia", "2026-05-24 12:24", "3"]]


def test_an_xlsx_formula_is_read_as_its_text_never_evaluated():
    content = xlsx_bytes([["=600000000+1", "Zofia"]], header=["Telefon", "Imię"])
    layout = detect_layout(content, "leady.xlsx")
    assert layout.sample == [["=600000000+1", "Zofia"]]


def test_an_xlsx_formula_is_read_as_the_value_excel_saved_with_it():
    book = openpyxl.Workbook()
    book.active.append(["Telefon", "Imię", "Nazwisko", "Zgoda", "Opiekun"])
    book.active.append([1, 2, 3, 4, 5])
    content = workbook_bytes(book)
    for cell, formula in [
            ('<c r="A2" t="n"><v>1</v></c>', '<c r="A2"><f>A1+1</f><v>601234567</v></c>'),
            ('<c r="B2" t="n"><v>2</v></c>', '<c r="B2" t="str"><f>UPPER("a")</f><v>A</v></c>'),
            ('<c r="C2" t="n"><v>3</v></c>', '<c r="C2" t="str"><f>""</f><v></v></c>'),
            ('<c r="D2" t="n"><v>4</v></c>', '<c r="D2" t="b"><f>TRUE()</f><v>1</v></c>'),
            ('<c r="E2" t="n"><v>5</v></c>', '<c r="E2" t="e"><f>NA()</f><v>#N/A</v></c>')]:
        content = sheet_patched(content, cell, formula)
    (cells,) = detect_layout(content, "leady.xlsx").sample
    assert cells == ["601234567", "A", "", "TRUE", "#N/A"]
    assert isinstance(cells[4], ExcelError)


def test_an_xlsx_array_formula_is_read_as_its_text():
    book = openpyxl.Workbook()
    book.active.append(["Telefon", "Imię"])
    book.active.append(["601234567", "Zofia"])
    book.active["B2"] = ArrayFormula("B2", "=UPPER(A2)")
    layout = detect_layout(workbook_bytes(book), "leady.xlsx")
    assert layout.sample == [["601234567", "=UPPER(A2)"]]


def test_the_first_visible_sheet_is_read_not_a_hidden_first_one_nor_the_one_saved_on():
    """Saved while its user looked at the people already called, a workbook's rows were
    read from that sheet, while the mapping page said the first was read."""
    book = openpyxl.Workbook()
    lists = book.active
    lists.title, lists.sheet_state = "Słowniki", "hidden"
    lists.append(["Kod", "Opis"])
    book.create_sheet("Leady").append(["Telefon", "Imię"])
    book["Leady"].append(["601234567", "Zofia"])
    book.create_sheet("Już dzwonieni").append(["Nr", "Kto"])
    book["Już dzwonieni"].append(["602234567", "Jan"])
    for active in (0, 1, 2):
        book.active = active
        layout = detect_layout(workbook_bytes(book), "leady.xlsx")
        assert (layout.sheet, layout.headers) == ("Leady", ["Telefon", "Imię"])
        assert layout.sheets == {"Słowniki": False, "Leady": True, "Już dzwonieni": True}
    layout = FileLayout(kind="xlsx", sheet="Już dzwonieni")
    assert list(read_rows(workbook_bytes(book), layout)) == [
        (1, ["Nr", "Kto"]), (2, ["602234567", "Jan"])]
    with pytest.raises(FileProblem, match="The workbook has no sheet named “Nowi”."):
        list(read_rows(workbook_bytes(book), FileLayout(kind="xlsx", sheet="Nowi")))


@pytest.mark.parametrize("note", [[], [["Dane klientów są w arkuszu Dane"]]])
def test_a_workbook_opening_on_an_empty_or_a_note_sheet_is_read_from_its_sheet_of_rows(note):
    """A CRM's export opening on an empty sheet, or one of instructions, was refused as
    empty, or as a header with no rows, before its sheet could be chosen."""
    book = openpyxl.Workbook()
    book.active.title = "Instrukcja"
    for row in note:
        book.active.append(row)
    data = book.create_sheet("Dane")
    for row in [HEADER, *ROWS]:
        data.append(row)
    layout = detect_layout(workbook_bytes(book), "eksport.xlsx")
    assert (layout.sheet, layout.headers, layout.sample) == ("Dane", HEADER, ROWS)


def test_a_workbook_none_of_whose_sheets_holds_rows_is_refused_naming_them():
    book = openpyxl.Workbook()
    book.active.title = "Instrukcja"
    book.active.append(["Dane klientów są w arkuszu Dane"])
    book.create_sheet("Dane").append(HEADER)
    with pytest.raises(FileProblem) as problem:
        detect_layout(workbook_bytes(book), "eksport.xlsx")
    assert "(its sheets: “Instrukcja”, “Dane”)" in problem.value.message


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
    assert layout.sample == [["601234567", "1,23456789012346E+18"]]


def test_a_workbook_s_numbers_read_as_excel_shows_them_by_their_format():
    """A PESEL formatted to eleven digits lost its leading zero, a birth date gained a time
    of 00:00, 15% came as 0.15 and Excel's 0.3 as 0.30000000000000004."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Telefon", "PESEL", "Urodzony", "Rabat", "Udział", "Suma", "Kod", "Termin"])
    sheet.append([601234567, 2270803628, datetime.datetime(1982, 2, 18), 0.125, 0.0225, 0.1,
                  -42, datetime.datetime(2026, 12, 24, 10, 30)])
    # Halves rounded up, as Excel shows them.
    formats = {"B2": "00000000000", "C2": "dd.mm.yyyy", "D2": "0%", "E2": "0.0%",
               "G2": "00000", "H2": "dd.mm.yyyy hh:mm"}
    for cell, number_format in formats.items():
        sheet[cell].number_format = number_format
    content = sheet_patched(workbook_bytes(book), "<v>0.1</v>", "<v>0.30000000000000004</v>")
    layout = detect_layout(content, "leady.xlsx")
    assert layout.sample == [["601234567", "02270803628", "1982-02-18", "13%", "2,3%", "0,3",
                              "-42", "2026-12-24 10:30"]]


def test_a_workbook_s_amounts_are_read_as_the_same_sheet_saved_as_csv_by_polish_excel():
    """Shown 4,50 under a format of two decimals, an amount was sent 4.5, where the same
    sheet saved as CSV sends 4,50."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Telefon", "Kwota", "Ocena", "Rabat", "Sztuk"])
    sheet.append([601000001, 4.5, 4.25, 0.125, 3])
    sheet.append([601000002, 12.0, 4.0, 0.5, 12.5])
    for column, number_format in {"B": "#,##0.00", "C": "0.0#", "D": "0.0%", "E": "0"}.items():
        for row in (2, 3):
            sheet[f"{column}{row}"].number_format = number_format
    saved_as_csv = csv_bytes([["601000001", "4,50", "4,25", "12,5%", "3"],
                              ["601000002", "12,00", "4,0", "50,0%", "13"]],
                             header=["Telefon", "Kwota", "Ocena", "Rabat", "Sztuk"],
                             encoding="cp1250")
    assert (detect_layout(workbook_bytes(book), "leady.xlsx").sample
            == detect_layout(saved_as_csv, "leady.csv").sample)


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


def test_a_carriage_return_alone_ends_a_line_among_crlf_line_ends_but_not_in_quotes():
    content = (b'Telefon;Imie\r\n601234567;Jan\r602234567;"Ewa\rAnna"\r\n'
               b"603234567;Ola\r\r\n604234567;Iga")
    layout = detect_layout(content, "leady.csv")
    assert list(read_rows(content, layout)) == [
        (1, ["Telefon", "Imie"]), (2, ["601234567", "Jan"]), (3, ["602234567", "Ewa\rAnna"]),
        (4, ["603234567", "Ola"]), (6, ["604234567", "Iga"])]


def test_a_carriage_return_alone_just_before_the_file_s_last_character_ends_a_line():
    content = b"Telefon;Imie\r\n601234567;Jan\r602234567;Ewa\r\n603234567;Ola\rZ"
    assert list(read_rows(content, detect_layout(content, "leady.csv"))) == [
        (1, ["Telefon", "Imie"]), (2, ["601234567", "Jan"]), (3, ["602234567", "Ewa"]),
        (4, ["603234567", "Ola"]), (5, ["Z"])]


def test_a_quote_never_closed_is_refused_at_its_row_in_the_portals_words():
    content = (b"Telefon;Uwagi\r\n601234567;ok\r\n602234567;\"nie zamkni\xc4\x99ty\r\n"
               + b"603234567;dalej\r\n" * 10_000)
    with pytest.raises(FileProblem) as problem:
        detect_layout(content, "leady.csv")
    assert str(problem.value.message) == (
        "Row 3 cannot be read as CSV: a cell of it holds more than 131072 characters, most "
        'often because a quote (") opened in it is never closed.')


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_excels_unicode_text_is_read_as_utf16_separated_by_tabs(encoding):
    text = "Telefon\tImię\r\n601234567\tZofia\r\n602234567\tŁucja\r\n"
    content = (b"" if encoding == "utf-16" else codecs.BOM_UTF16_BE) + text.encode(encoding)
    layout = detect_layout(content, "leady.txt")
    assert (layout.encoding, layout.delimiter, layout.headers) == ("utf-16", "\t",
                                                                   ["Telefon", "Imię"])
    assert [cells for _number, cells in read_rows(content, layout)][1:] == [
        ["601234567", "Zofia"], ["602234567", "Łucja"]]


def test_a_utf16_file_that_cannot_be_decoded_names_its_line():
    content = "Telefon\tImię\r\n601234567\tZofia\r\n".encode("utf-16") + b"\x00\xd8A\x00"
    with pytest.raises(FileProblem) as problem:
        detect_layout(content, "leady.txt")
    assert str(problem.value.message) == (
        "Line 3 is not valid UTF-16 (Excel's Unicode text) text: choose the file's encoding.")


def test_a_file_separated_by_vertical_bars_is_read_in_columns():
    content = b"Telefon|Imie\r\n601234567|Jan\r\n602234567|Ewa\r\n"
    layout = detect_layout(content, "leady.csv")
    assert (layout.delimiter, layout.headers) == ("|", ["Telefon", "Imie"])


@pytest.mark.parametrize("first, delimiter, row", [
    ("sep=;", ";", ["601234567", "Jan,Ewa"]),
    ("SEP=|", "|", ["601234567", "Jan,Ewa"]),
    ("sep=:", ",", ["601234567", "Jan", "Ewa"]),  # no separator the portal reads: detected
])
def test_a_first_line_naming_the_separator_is_followed_and_is_not_the_header(first, delimiter,
                                                                              row):
    content = (f"{first}\r\nTelefon{delimiter}Imie\r\n601234567{delimiter}Jan,Ewa\r\n"
               f"602234567{delimiter}Ola\r\n").encode()
    layout = detect_layout(content, "leady.csv")
    assert (layout.delimiter, layout.headers) == (delimiter, ["Telefon", "Imie"])
    assert list(read_rows(content, layout))[1] == (2, row)


TITLED = [["Eksport z CRM – leady"], ["Wygenerowano 06.12.2026 10:00"], [],
          ["Telefon", "Imię"], ["601000001", "Anna"], ["601000002", "Jan"]]
GROUPED = [["Kontakt", "", "Dane osobowe"], ["Telefon", "E-mail", "Imię", "Nazwisko"],
           ["601000001", "anna@example.pl", "Anna", "Lis"], ["601000002", "", "Jan", "Kot"]]


@pytest.mark.parametrize("name, content, header_row", [
    ("leady.csv", "\r\n".join(";".join(row) for row in TITLED).encode(), 4),
    ("leady.xlsx", xlsx_bytes(TITLED[1:], header=TITLED[0]), 4),
    ("leady.xlsx", xlsx_bytes(GROUPED[1:], header=GROUPED[0]), 2),
])
def test_a_title_and_group_names_above_the_column_names_are_read_past(name, content,
                                                                      header_row):
    """A title, its date and a row of merged group names were taken for the column names,
    and every row was refused as too wide."""
    layout = detect_layout(content, name)
    assert layout.header_row == header_row
    assert layout.headers in (TITLED[3], GROUPED[1])
    assert list(read_rows(content, layout))[0] == (header_row, layout.headers)


def test_a_title_above_rows_of_people_without_column_names_is_refused_saying_so():
    content = "\r\n".join(";".join(row) for row in [TITLED[0], *TITLED[4:]]).encode()
    with pytest.raises(FileProblem) as problem:
        detect_layout(content, "leady.csv")
    assert str(problem.value.message) == (
        "The first row holds one value (Eksport z CRM – leady) where the rows below it "
        "hold 2 or more: if it is a title above the column names, delete it and the blank "
        "rows under it, so that the column names are the first row, and upload the file "
        "again.")


def test_a_file_of_one_column_is_no_title():
    content = b"Telefon\r\n601000001;\r\n601000002\r\n"
    assert detect_layout(content, "leady.csv").headers == ["Telefon"]


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


PERSON = b'<row><c t="inlineStr"><is><t>601000002</t></is></c></row>'
NOT_A_SPREADSHEET = "holds more than a spreadsheet program writes"


@pytest.mark.parametrize("spaces_first", [0, 100], ids=["as written", "led by spaces"])
def test_a_cell_longer_than_excel_writes_is_refused_before_it_is_held(spaces_first):
    """103 KB held a first cell of 100 million characters: the web process took 1.28 GB
    more, and the import kept it as its first column's name. A sheet led by spaces, with
    no XML declaration, was read unguarded."""
    content = long_first_cell_xlsx(10, spaces_first=spaces_first)
    tracemalloc.start()
    try:
        with pytest.raises(FileProblem) as problem:
            detect_layout(content, "leady.xlsx")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert NOT_A_SPREADSHEET in str(problem.value.message)
    assert "a cell of over 32,767 characters" in str(problem.value.message)
    assert peak < 5_000_000


@pytest.mark.parametrize(("pieces", "after_data", "limit"), [
    ([b"<row>" + b"<c/>" * 10_000 + b"</row>"], b"", ("MAX_RECORD_BYTES", 20_000)),
    ([PERSON], b"<x/>" * 1000, ("MAX_ELEMENTS", 500)),  # kept till the sheet's end
    ([b'<row><c t="inlineStr"><is>' + b"<r><t>A</t></r>" * 2000 + b"</is></c></row>"], b"",
     ("MAX_RECORD_BYTES", 20_000)),  # a cell of many runs
], ids=["a row of many cells", "elements outside the rows", "a cell of many runs"])
def test_a_workbook_whose_xml_would_take_far_more_memory_than_its_size_is_refused(
        monkeypatch, pieces, after_data, limit):
    """1 MB of empty cells in one row took openpyxl some 80 MB."""
    monkeypatch.setattr(workbooks, *limit)
    content = streamed_xlsx(pieces, after_data=after_data)
    with pytest.raises(FileProblem) as problem:
        list(read_rows(content, detect_layout(content, "leady.xlsx")))
    assert NOT_A_SPREADSHEET in str(problem.value.message)


def test_a_workbook_with_entities_declared_is_refused():
    """An entity declared in a DTD multiplies a text; no workbook declares one."""
    content = streamed_xlsx([PERSON])
    doctype = b'<!DOCTYPE worksheet [<!ENTITY a "AAAAAAAAAA">]>'
    content = xlsx_with_sheet_start(content, doctype)
    with pytest.raises(FileProblem) as problem:
        detect_layout(content, "leady.xlsx")
    assert NOT_A_SPREADSHEET in str(problem.value.message)


def xlsx_with_sheet_start(content: bytes, start: bytes) -> bytes:
    """The workbook with `start` put before its sheet's first element."""
    source, buffer = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        for name in source.namelist():
            xml = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                declaration, rest = xml.split(b"?>", 1)
                xml = declaration + b"?>" + start + rest
            book.writestr(name, xml)
    return buffer.getvalue()


LONG_CELL = (b'<row><c t="inlineStr"><is><t>' + b"A" * (workbooks.MAX_TEXT + 1)
             + b"</t></is></c></row>")


@pytest.mark.parametrize(("lead", "encoding"), [
    (" <!--\u0100-->", "utf-16-le"),
    ("  ", "utf-16-le"),
    (" ", "utf-16-be"),
], ids=["led by a space and a comment", "led by two spaces", "big-endian, led by a space"])
def test_a_sheet_in_utf16_led_by_spaces_is_guarded_as_any_other(lead, encoding):
    """The guard read what came after a UTF-16 sheet's leading spaces: a byte off, so that
    the comment's letter was a NUL and the guard stopped at it, or as no XML at all, while
    openpyxl read every byte: a 195 KB upload held a cell of 100 million characters, which
    took the upload's request 199 s and some 1.8 GB."""
    content = xlsx_with_sheet_in(streamed_xlsx([LONG_CELL], first=True), encoding, lead)
    with pytest.raises(FileProblem) as problem:
        detect_layout(content, "leady.xlsx")
    assert "a cell of over 32,767 characters" in str(problem.value.message)


def test_a_sheet_whose_xml_the_guard_cannot_read_is_refused_not_read_unguarded():
    content = streamed_xlsx([b"<row></x>" + LONG_CELL], first=True)
    with pytest.raises(FileProblem) as problem:
        detect_layout(content, "leady.xlsx")
    assert str(problem.value.message) == (
        "This workbook's XML is damaged or not as a spreadsheet program writes it, so the "
        "portal does not read it: save it again from Excel, or as CSV.")


def xlsx_with_sheet_in(content: bytes, encoding: str, lead: str) -> bytes:
    """The workbook with its sheet's XML in `encoding`, led by `lead` where its declaration
    (which names its encoding) was."""
    source, buffer = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        for name in source.namelist():
            xml = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                xml = (lead + xml.split(b"?>", 1)[1].decode()).encode(encoding)
            book.writestr(name, xml)
    return buffer.getvalue()


def test_a_workbook_unpacking_to_more_than_the_largest_csv_file_s_rows_is_refused(settings):
    """Identical rows compress a thousandfold: 990 KB held 10 million rows, 20 MB would
    have given a worker some 200 million."""
    settings.IMPORT_MAX_FILE_SIZE = 30_000  # workbooks of at most 600 KB unpacked
    content = streamed_xlsx([PERSON * 1000] * 12)  # 670 KB unpacked
    assert len(content) < 10_000
    with pytest.raises(FileProblem) as problem:
        detect_layout(content, "leady.xlsx")
    assert "This workbook unpacks to 670.1\xa0KB; the portal reads workbooks of at most " \
        "585.9\xa0KB unpacked (the rows of a CSV file of 29.3\xa0KB)" in str(problem.value.message)
    settings.IMPORT_MAX_FILE_SIZE = 40_000
    assert len(list(read_rows(content, detect_layout(content, "leady.xlsx")))) == 12_002


def test_a_workbook_of_many_short_cells_within_the_largest_csv_file_is_read(settings):
    """Its cells' markup is many times their text: judged at six bytes of XML per byte of
    CSV, an honest workbook holding no more rows than a CSV file may was refused."""
    rows = [[f"60100{n:04d}", *"12345", *["tak", "nie"] * 5] for n in range(2000)]
    header = ["Telefon", *(f"ocena{n}" for n in range(5)), *(f"zgoda{n}" for n in range(10))]
    content = excel_xlsx_bytes(rows, header=header)
    settings.IMPORT_MAX_FILE_SIZE = len(csv_bytes(rows, header=header))
    assert workbooks.unpacked_size(content) > 6 * settings.IMPORT_MAX_FILE_SIZE
    assert len(list(read_rows(content, detect_layout(content, "leady.xlsx")))) == 2001


def test_a_part_stating_less_than_it_holds_is_read_no_further_than_stated(settings):
    """The archive's directory states what a part unpacks to, which the bound is held to;
    a part holding more (its size a lie) is cut there by zipfile, and its check sum fails."""
    settings.IMPORT_MAX_FILE_SIZE = 100_000
    content = size_stated(streamed_xlsx([PERSON * 1000] * 12),
                          "xl/worksheets/sheet1.xml", 50_000)
    with pytest.raises(FileProblem) as problem:
        list(read_rows(content, detect_layout(content, "leady.xlsx")))
    assert "of the workbook cannot be read" in str(problem.value.message)


def test_a_row_numbered_past_excel_s_last_is_refused():
    """openpyxl gives the rows a sheet skips as empty ones: a row numbered a billion was a
    billion rows to read."""
    content = streamed_xlsx([b'<row r="1048577"><c><v>601000002</v></c></row>'])
    with pytest.raises(FileProblem) as problem:
        list(read_rows(content, detect_layout(content, "leady.xlsx")))
    assert NOT_A_SPREADSHEET in str(problem.value.message)


def formatted_empty_rows(first: int, last: int):
    """Rows first to last of a sheet, empty but formatted, as Excel writes rows a user
    formatted down to the sheet's end; piece by piece, for `streamed_xlsx`."""
    for start in range(first, last + 1, 10_000):
        yield b"".join(b'<row r="%d" s="1" customFormat="1"/>' % number
                       for number in range(start, min(start + 10_000, last + 1)))


def test_a_workbook_s_sample_is_read_no_further_than_ten_thousand_empty_rows(monkeypatch):
    """Formatted down to row 1,048,576, a workbook of one person took its upload 13 s."""
    content = streamed_xlsx(formatted_empty_rows(3, 50_000))
    parsed = []
    parse_row = sheets._Parser.parse_row
    monkeypatch.setattr(sheets._Parser, "parse_row",
                        lambda parser, row: parsed.append(1) or parse_row(parser, row))
    layout = detect_layout(content, "leady.xlsx")
    assert (layout.headers, layout.sample) == (["Telefon"], [["601000001"]])
    assert len(parsed) == 2 + 10_000  # of 50,000
    assert list(read_rows(content, layout)) == [(1, ["Telefon"]), (2, ["601000001"])]


@pytest.mark.parametrize(("empty", "says"), [
    (9_999, ""), (10_000, "The 10,000 rows under the header are empty, so the portal looks "
                          "no further: delete the empty rows under the header")])
def test_ten_thousand_empty_rows_under_the_header_are_refused_saying_so(empty, says):
    person = (f'<row r="{empty + 2}"><c r="A{empty + 2}" t="inlineStr"><is><t>601000001</t>'
              "</is></c></row>")
    content = sheet_patched(excel_xlsx_bytes([], header=["Telefon"]), "</sheetData>",
                            b"".join(formatted_empty_rows(2, empty + 1)).decode() + person
                            + "</sheetData>")
    if not says:
        assert detect_layout(content, "leady.xlsx").sample == [["601000001"]]
        return
    with pytest.raises(FileProblem, match=re.escape(says)):
        detect_layout(content, "leady.xlsx")


def test_a_workbook_s_formatted_empty_rows_are_read_without_keeping_them():
    """openpyxl kept each row's height and style to the sheet's end: 400 MB for a
    million. A quarter of 100,000 rows tells it as well, in a quarter of the time that
    tracemalloc's tracing takes: some 10 MB kept before, 2.4 MB read now."""
    content = streamed_xlsx(formatted_empty_rows(3, 25_000))
    tracemalloc.start()
    try:
        assert len(list(read_rows(content, FileLayout(kind="xlsx")))) == 2
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024
