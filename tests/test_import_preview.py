"""Upload, mapping and preview: every row checked by the record form, nothing sent."""

import datetime
import io
import re
import tracemalloc

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from audit.models import Outcome
from imports import previewing, services
from imports.mapping import mapping_by_header, propose_mapping
from imports.models import ImportJob, ImportRow, ImportTemplate, RowState
from imports.reading import FileLayout
from imports.repeats import FirstRows
from imports.services import import_cancel, import_confirm, import_upload
from imports.storing import upload_content
from records.forms import RecordForm
from tests.audit_fixtures import addition
from tests.conftest import api_calls
from tests.import_files import (
    HEADER,
    csv_bytes,
    long_first_cell_xlsx,
    mapping_post,
    people,
    previewed,
    sheet_patched,
    upload,
    xlsx_bytes,
)
from tests.test_record_form import NOT_NATIONAL, TWO_NUMBERS

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales(campaigns):
    """The sandbox's CSV campaign with the fields imie, nazwisko, miasto."""
    return campaigns["00001"]


def rows_by_number(job):
    return {row.number: row for row in ImportRow.objects.filter(job=job)}


def test_the_proposed_mapping_matches_polish_headers_and_the_campaign_fields(logged_in, sales):
    content = csv_bytes(people(2), header=["Nr telefonu", "IMIĘ", "nazwisko", "Uwagi"])
    response = upload(logged_in, sales, content)
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("imports:mapping", args=[job.pk])
    assert job.mapping == ["phone_number", "record_fields.imie", "record_fields.nazwisko", ""]
    assert (job.file_kind, job.encoding, job.delimiter) == ("csv", "utf-8", ";")
    page = logged_in.get(response["Location"]).content.decode()
    assert "601000001" in page  # the first rows are shown beside the columns
    assert 'value="cp1250"' in page and 'value=";" selected' in page


@pytest.mark.parametrize("headers, proposed", [
    # "Numer" beside a column plainly of phones is a customer's number: not dialled.
    (["Numer", "Imię", "Telefon"], ["", "record_fields.imie", "phone_number"]),
    (["Numer", "Imię"], ["phone_number", "record_fields.imie"]),  # alone, it is the phone
])
def test_a_column_plainly_of_phones_is_proposed_before_one_called_numer(sales, headers,
                                                                        proposed):
    assert propose_mapping(headers, sales) == proposed


@pytest.mark.parametrize(("saved_in", "proposed_in"), [("pl", "en"), ("en", "pl")])
def test_a_template_maps_a_headerless_column_whatever_language_either_was_made_in(
        sales, saved_in, proposed_in):
    headers = ["Telefon", "", "Imię"]
    with translation.override(saved_in):
        template = mapping_by_header(headers, ["phone_number", "record_fields.nazwisko",
                                               "record_fields.imie"])
    with translation.override(proposed_in):
        assert propose_mapping(headers, sales, template) == [
            "phone_number", "record_fields.nazwisko", "record_fields.imie"]


def test_every_row_is_checked_and_nothing_is_sent(logged_in, sales, thulium):
    rows = [
        ["601234567", "Zofia", "Nowak", "Łódź"],
        ["(22) 555-66-77", "Jan", "Kowalski", "Kraków"],
        ["12", "Za", "krótki", ""],
        ["+48 601 234 567", "Ten", "sam", "numer"],
        ["602000000", "x" * 1001, "", ""],
    ]
    job = previewed(logged_in, sales, csv_bytes(rows))
    assert api_calls(thulium, "POST") == []
    assert (job.state, job.rows_total, job.rows_valid) == ("previewed", 5, 2)
    by_number = rows_by_number(job)
    assert by_number[2].payload == {
        "phone_number": "601234567",
        "record_fields": {"imie": "Zofia", "nazwisko": "Nowak", "miasto": "Łódź"},
    }
    assert by_number[3].payload["phone_number"] == "225556677"
    assert by_number[4].state == RowState.INVALID
    assert "Phone number: Enter a phone number of 6 to 15 digits" in by_number[4].problems[0]
    assert by_number[5].state == RowState.DUPLICATE
    assert by_number[5].problems == ["The same phone number as row 2."]
    assert by_number[6].state == RowState.INVALID
    assert by_number[6].problems == [
        "imie: Ensure this value has at most 1000 characters (it has 1001)."]
    page = logged_in.get(job.get_absolute_url()).content.decode()
    assert "Nothing has been sent to Thulium yet." in page
    assert "Send 2 rows to Thulium" in page
    assert "The same phone number as row 2." in page


def test_the_preview_shows_the_first_rows_to_send_as_thulium_will_get_them(logged_in, sales):
    rows = [["+48 601 000 001", "Zofia", "Kowalska", "Łódź"], ["12", "Jan", "Nowak", "Ełk"],
            ["601 000 002", "Ewa", "Lis", ""], *people(4, first=601000003)]
    job = previewed(logged_in, sales, csv_bytes(rows))
    response = logged_in.get(job.get_absolute_url())
    assert "no-store" in response["Cache-Control"]  # its rows' numbers and fields

    table = re.search(r'data-testid="rows-to-send">(.*?)</table>', response.content.decode(),
                      re.DOTALL)[1]
    assert re.findall(r"<th><code>(.*?)</code></th>", table) == [
        "phone_number", "record_fields.imie", "record_fields.nazwisko", "record_fields.miasto"]
    shown = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr><td>.*?</tr>", table)]
    sent = {row.number: row.payload["phone_number"] for row in ImportRow.objects.filter(job=job)
            if row.payload}
    # The first five rows to send (not the refused row 3, nor row 8), each number as sent.
    assert shown == [["2", sent[2], "Zofia", "Kowalska", "Łódź"],
                     ["4", sent[4], "Ewa", "Lis", ""],
                     *[[str(n), sent[n], "Zofia", f"Kowalska-{n - 5}", "Łódź"]
                       for n in (5, 6, 7)]]
    assert sent[2] != rows[0][0]

    assert services.import_confirm(job=job)
    assert 'data-testid="rows-to-send"' not in logged_in.get(
        job.get_absolute_url()).content.decode()


def test_a_number_is_sent_without_a_decimal_an_export_added_and_never_with_a_lost_digit(
        logged_in, sales):
    job = previewed(logged_in, sales, csv_bytes([["601 234 567.0", "", "", ""],
                                                 ["4860123456", "", "", ""]]))
    by_number = rows_by_number(job)
    assert by_number[2].payload == {"phone_number": "601234567"}
    assert by_number[3].state == RowState.INVALID
    assert by_number[3].problems == [
        "Phone number: This number starts with the country code 48, but what follows "
        "(60123456) is no number of that country: check its digits."]
    assert by_number[3].phone_key == "4860123456"  # for an erasure to find it


def test_two_numbers_in_one_cell_are_refused_not_sent_glued_into_one(logged_in, sales):
    """The slash was read as a separator: "601-234-567/8" was sent as 6012345678."""
    job = previewed(logged_in, sales, csv_bytes([["22 123 45 67/68", "", "", ""],
                                                 ["601-234-567/8", "", "", ""],
                                                 ["6012345678", "", "", ""]]))
    by_number = rows_by_number(job)
    assert [by_number[number].problems for number in (2, 3, 4)] == [
        [f"Phone number: {TWO_NUMBERS.format('/')}"]] * 2 + [[f"Phone number: {NOT_NATIONAL}"]]
    assert {row.state for row in by_number.values()} == {RowState.INVALID}


def test_a_row_gets_exactly_the_errors_the_single_record_form_gives(logged_in, sales):
    """One validation path: the preview's verdict equals a fresh RecordForm's."""
    statuses = [{"system_status": "MY_RECORD", "status_id": "5", "name": "Mój rekord"}]
    data = {"phone_number": "601234567", "status_id": "5", "next_call_date": "jutro"}
    single = RecordForm(data, campaign=sales, statuses=statuses)
    assert not single.is_valid()
    reused = RecordForm(campaign=sales, statuses=statuses)
    reused.rebind({"phone_number": "602000000"}).is_valid()  # a valid row first
    assert not reused.rebind(data).is_valid()
    assert reused.errors == single.errors
    assert reused.rebind({"phone_number": "603000000"}).is_valid()
    assert reused.to_payload() == {"phone_number": "603000000"}


def test_the_preview_shows_a_next_call_as_typed_in_the_portal_s_zone_though_thulium_gets_warsaw_s(
        logged_in, sales, settings):
    """It showed the payload's "2027-01-10 15:00", Warsaw's wall-clock time, with no zone,
    to one who typed 09:00 in New York: six hours off what they meant."""
    settings.TIME_ZONE = "America/New_York"
    rows = [["601000001", "2027-01-10 09:00"], ["601000002", "2027-11-07 01:30-04:00"]]
    job = previewed(logged_in, sales, csv_bytes(rows, header=["telefon", "następny kontakt"]))
    assert [rows_by_number(job)[n].payload["next_call_date"] for n in (2, 3)] == [
        "2027-01-10 15:00", "2027-11-07 06:30"]

    page = logged_in.get(job.get_absolute_url()).content.decode()
    table = re.search(r'data-testid="rows-to-send">(.*?)</table>', page, re.DOTALL)[1]
    shown = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr><td>.*?</tr>", table)]
    # 01:30 comes twice that night in New York: the first, summer time's.
    assert [row[-1] for row in shown] == ["2027-01-10 09:00", "2027-11-07 01:30 EDT"]


def test_statuses_and_agents_are_checked_against_thulium(logged_in, sales):
    header = ["telefon", "status", "agent", "następny kontakt"]
    rows = [
        ["601000001", "5", "jkowalski", "2026-05-24 12:24"],
        ["601000002", "5", "", ""],
        ["601000003", "99", "", ""],
        ["601000004", "1", "nieznany", ""],
        ["601000005", "Kontakt potrzebny", "", ""],  # as Thulium's panel names it
    ]
    job = previewed(logged_in, sales, csv_bytes(rows, header=header))
    assert job.mapping == ["phone_number", "status_id", "agent_login", "next_call_date"]
    by_number = rows_by_number(job)
    assert by_number[2].payload == {"phone_number": "601000001", "status_id": "5",
                                    "agent_login": "jkowalski",
                                    "next_call_date": "2026-05-24 12:24"}
    assert by_number[3].problems == [
        "Agent: Required for the status Mój rekord (system status MY_RECORD).",
        "Next call: Required for the status Mój rekord (system status MY_RECORD).",
    ]
    assert by_number[4].problems == [
        "Status: “99” is neither the id of one of this campaign's statuses nor the name of "
        "only one: 1 (Do zadzwonienia), 3 (Kontakt potrzebny), 5 (Mój rekord), 7 (Nie "
        "dzwonić), 8 (Oddzwonić nie wcześniej niż), …"]
    assert by_number[5].problems == [
        "Agent: “nieznany” is not the login of one of this campaign's agents: jkowalski, "
        "anowak, p.wisniewski"]
    assert by_number[6].payload == {"phone_number": "601000005", "status_id": "3"}


def test_statuses_and_agents_thulium_could_not_give_are_said_on_the_preview(
    logged_in, sales, thulium
):
    """On the preview itself, as a worker's check says it, not in a message gone once
    read: its rows stay judged without them."""
    thulium.state.fail_next("refuse", path="/api/outbounds/00001/statuses")
    job = previewed(logged_in, sales, csv_bytes(people(2)))
    assert job.rows_valid == 2
    for _shown in range(2):
        page = logged_in.get(job.get_absolute_url()).content.decode()
        assert 'data-testid="choices-unread"' in page
        assert "(Thulium request_id: " in page


def test_dates_written_the_polish_way_are_read_and_others_are_refused_saying_how(
    logged_in, sales
):
    header = ["telefon", "następny kontakt"]
    rows = [["601000001", "24.12.2026 10:00"], ["601000002", "24/12/2026 10:00"]]
    job = previewed(logged_in, sales, csv_bytes(rows, header=header))
    by_number = rows_by_number(job)
    assert by_number[2].payload == {"phone_number": "601000001",
                                    "next_call_date": "2026-12-24 10:00"}
    assert by_number[3].problems == [
        "Next call: Enter a date and time as YYYY-MM-DD HH:MM or DD.MM.YYYY HH:MM."]


def test_a_number_excel_wrote_in_scientific_notation_is_refused_saying_how_to_keep_it(
    logged_in, sales
):
    job = previewed(logged_in, sales, csv_bytes([["4,86012E+11"]], header=["Telefon"]))
    (row,) = ImportRow.objects.filter(job=job)
    assert row.state == RowState.INVALID
    assert row.problems == [
        "Phone number: Excel wrote this number in scientific notation (4,86012E+11), which "
        "has lost its last digits: upload the .xlsx workbook itself, or format the column as "
        "Text in Excel and save the CSV again."]


def test_long_identifiers_excel_cut_short_are_refused_not_sent_as_one(logged_in, sales):
    # 123456789012 and 123456789013 both saved as 1,23457E+11: sent, they would be one id.
    rows = [["601000001", "1,23457E+11"], ["601000002", "1,23457E+11"]]
    job = previewed(logged_in, sales, csv_bytes(rows, header=["Telefon", "Identyfikator"]))
    by_number = rows_by_number(job)
    for number in (2, 3):
        assert by_number[number].state == RowState.INVALID
        assert by_number[number].problems[0].startswith(
            "Identifier: Excel wrote this identifier in scientific notation (1,23457E+11)")


def test_a_file_with_no_row_to_send_points_to_the_mapping(logged_in, sales):
    # The names went to the phone number: every row is refused for the same reason.
    job = previewed(logged_in, sales, csv_bytes(people(3)), column_0="", column_1="phone_number")
    assert job.rows_total == 3 and job.rows_valid == 0
    page = logged_in.get(job.get_absolute_url()).content.decode()
    assert 'data-testid="nothing-to-send"' in page and "change the mapping" in page
    assert 'data-testid="confirm"' not in page

    fine = previewed(logged_in, sales, csv_bytes(people(3, first=602000000)))
    assert 'data-testid="nothing-to-send"' not in (
        logged_in.get(fine.get_absolute_url()).content.decode())


def test_numbers_the_portal_already_added_are_flagged_with_one_query(
    logged_in, sales, user, django_assert_max_num_queries
):
    for number, outcome in [("601000000", Outcome.SUCCEEDED), ("601000001", Outcome.UNKNOWN),
                            ("601000002", Outcome.REFUSED)]:
        addition(actor=user, campaign=sales, phone=number, outcome=outcome)
    upload(logged_in, sales, csv_bytes(people(300)))
    job = ImportJob.objects.get()
    # Reading the file, the earlier additions, the job and writing the rows: no query per row.
    with django_assert_max_num_queries(20):
        logged_in.post(reverse("imports:mapping", args=[job.pk]), mapping_post(job))
    job.refresh_from_db()
    states = rows_by_number(job)
    assert [states[n].state for n in (2, 3, 4)] == [
        RowState.ALREADY_ADDED, RowState.ALREADY_ADDED, RowState.QUEUED]
    assert "This portal already added this number to the campaign." in states[2].problems[0]
    assert job.rows_valid == 298


def test_each_batch_of_the_preview_reads_only_its_own_numbers_and_identifiers(
    logged_in, sales, user, monkeypatch
):
    """A campaign's other additions are never read: a preview costs what its file holds."""
    addition(actor=user, campaign=sales, phone="601000000")
    addition(actor=user, campaign=sales, phone="699999999", identifier="K-250")
    addition(actor=user, campaign=sales, phone="698888888", identifier="K-999")
    monkeypatch.setattr(previewing, "PREVIEW_BATCH", 100)
    rows = [[str(601000000 + n), f"K-{n}"] for n in range(300)]
    upload(logged_in, sales, csv_bytes(rows, header=["telefon", "identyfikator"]))
    job = ImportJob.objects.get()
    with CaptureQueriesContext(connection) as queries:
        logged_in.post(reverse("imports:mapping", args=[job.pk]), mapping_post(job))
    reads = [query["sql"] for query in queries.captured_queries
             if query["sql"].startswith("SELECT") and '"records_addedrecord"' in query["sql"]]
    # Per batch of 100: its numbers, its identifiers; no query per row, none for all.
    assert len(reads) == 6
    assert all('"phone_key" IN' in sql or '"identifier" IN' in sql for sql in reads)
    assert not any("698888888" in sql or "K-999" in sql for sql in reads)
    job.refresh_from_db()
    states = rows_by_number(job)
    assert states[2].state == RowState.ALREADY_ADDED  # the first batch's number
    assert states[252].state == RowState.INVALID  # the third batch's identifier
    assert "already added a record with this identifier" in states[252].problems[0]
    assert job.rows_valid == 298


def test_rows_repeating_an_earlier_batch_s_number_or_identifier_are_set_apart(
    logged_in, sales, monkeypatch
):
    """A row is held against the rows that will be sent: one that repeats only a row
    set apart as a repeat is sent."""
    monkeypatch.setattr(previewing, "PREVIEW_BATCH", 100)
    rows = [[str(601000000 + n), f"K-{n}"] for n in range(300)]
    rows[148] = ["601000000", "K-new"]  # row 150 repeats row 2's number
    rows[248] = ["609999999", "K-50"]  # row 250 repeats row 52's identifier...
    rows[249] = ["609999999", "K-other"]  # ...so row 251's number is not a repeat
    upload(logged_in, sales, csv_bytes(rows, header=["telefon", "identyfikator"]))
    job = ImportJob.objects.get()
    logged_in.post(reverse("imports:mapping", args=[job.pk]), mapping_post(job))
    states = rows_by_number(job)
    assert states[150].problems == ["The same phone number as row 2."]
    assert states[250].problems == ["The same identifier as row 52."]
    assert states[251].state == RowState.QUEUED
    assert ImportJob.objects.get().rows_valid == 298


def test_identifiers_are_read_without_their_invisible_characters(logged_in, sales, user):
    """As the record form reads them: "\ufeffOZE-1" is "OZE-1", in the file and beside what
    the portal added, and the batch's one reading of the added identifiers answers it."""
    addition(actor=user, campaign=sales, phone="699999999", identifier="K-7")
    rows = [["601000001", "OZE-1"], ["601000002", "\ufeffOZE-1\u200b"],
            ["601000003", "\u200bK-7"], ["601000004", "\u200eOZE-2"]]
    upload(logged_in, sales, csv_bytes(rows, header=["telefon", "identyfikator"]))
    job = ImportJob.objects.get()
    with CaptureQueriesContext(connection) as queries:
        logged_in.post(reverse("imports:mapping", args=[job.pk]), mapping_post(job))
    states = rows_by_number(job)
    assert states[3].problems == ["The same identifier as row 2."]
    assert states[4].state == RowState.INVALID
    assert "already added a record with this identifier" in states[4].problems[0]
    assert (states[5].state, states[5].payload["identifier"]) == (RowState.QUEUED, "OZE-2")
    reads = [query["sql"] for query in queries.captured_queries
             if query["sql"].startswith("SELECT") and '"records_addedrecord"' in query["sql"]]
    assert len(reads) == 2  # the batch's numbers, its identifiers: none for a row


def test_the_first_rows_of_a_file_s_numbers_are_not_kept_in_python_objects():
    """A 20 MB file holds up to two million numbers: in dictionaries, their first rows took
    over 200 MB of the checking process."""
    first = FirstRows()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for start in range(0, 50_000, 2_000):
            values = [str(600_000_000 + n) for n in range(start, start + 2_000)]
            first.load(values)
            for number, value in enumerate(values, start=start):
                assert first.get(value) is None
                first.add(value, number)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1_000_000  # some 5 MB in dictionaries
    assert first.get("600000000") == 0  # not in the last batch: read from the database
    assert first.get("600049999") == 49_999
    assert first.get("700000000") is None
    first.close()


def test_formulas_and_ragged_rows_are_never_sent(logged_in, sales):
    content = (
        "Telefon;Imię;Nazwisko;Miasto\r\n"
        "601000001;=HYPERLINK(\"http://x\");Nowak;Łódź\r\n"
        "601000002;Jan;Kowalski\r\n"
        "601000003;Jan;Kowalski;Kraków;nadmiar\r\n"
        "601000004;Ewa;Lis;Gdańsk;\r\n"
        "601000005" + ";x" * 9_999 + "\r\n"
    ).encode()
    job = previewed(logged_in, sales, content)
    by_number = rows_by_number(job)
    assert "imie holds a formula (=HYPERLINK(\"http://x\"))" in by_number[2].problems[0]
    assert by_number[3].problems[0].startswith("This row has 3 cells where the header has 4")
    assert by_number[4].problems == [
        "This row has values in 5 columns; the header names 4: a cell may hold an unquoted "
        "separator or line break, or a value was typed past the last named column (name its "
        "column in the header row)."]
    assert by_number[5].state == RowState.QUEUED  # a trailing separator harms nothing
    assert by_number[6].problems[0].startswith("This row has values in 10000 columns")
    assert job.rows_valid == 1


def test_a_note_typed_past_a_sheets_last_named_column_is_refused_saying_so(logged_in, sales):
    content = xlsx_bytes([["601000001", "Anna", "Nowak", "Łódź", None, "oddzwonić po 16"],
                          ["601000002", "Jan", "Lis", "Gdańsk"]])
    by_number = rows_by_number(previewed(logged_in, sales, content, name="leady.xlsx"))
    assert by_number[2].problems == [
        "This row has values in 6 columns; the header names 4: name the columns in the "
        "header row, or delete their values."]
    assert by_number[3].state == RowState.QUEUED


def test_an_xlsx_file_is_previewed_like_a_csv(logged_in, sales):
    content = xlsx_bytes([[601234567, "Zofia", "Nowak", "Łódź"], ["=A2", "Jan", "", ""]])
    job = previewed(logged_in, sales, content, name="leady.xlsx")
    by_number = rows_by_number(job)
    assert by_number[2].payload["phone_number"] == "601234567"
    assert "holds a formula (=A2)" in by_number[3].problems[0]


def test_excel_errors_are_never_sent_the_row_says_which(logged_in, sales):
    """#N/A reached Thulium as a person's name and identifier; a CSV file saved by Polish
    Excel spells it #N/D."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Telefon", "Imię", "ID"])
    sheet.append([601000001, "#N/A", "#SPILL!"])
    sheet["B2"].data_type = sheet["C2"].data_type = "e"
    sheet.append([601000002, "Jan", "#N/A"])  # the text, typed in a cell formatted as text
    job = previewed(logged_in, sales, book_bytes(book), name="leady.xlsx",
                    column_2="identifier")
    by_number = rows_by_number(job)
    assert by_number[2].state == RowState.INVALID
    assert by_number[2].problems == [
        "imie holds Excel's error #N/A: correct the cell in the file.",
        "Identifier holds Excel's error #SPILL!: correct the cell in the file."]
    assert by_number[3].problems == [
        "Identifier holds Excel's error #N/A: correct the cell in the file."]
    rows = [["601000003", "#N/D", "", ""], ["601000004", "#DZIEL/0!", "#ADR!", ""]]
    by_number = rows_by_number(previewed(logged_in, sales, csv_bytes(rows)))
    assert by_number[2].problems == [
        "imie holds Excel's error #N/D: correct the cell in the file."]
    assert by_number[3].problems == [
        "imie holds Excel's error #DZIEL/0!: correct the cell in the file.",
        "nazwisko holds Excel's error #ADR!: correct the cell in the file."]
    assert job.rows_valid == 0


def test_a_workbook_s_formatted_cells_are_sent_as_excel_shows_them(logged_in, sales):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Telefon", "PESEL", "Następny kontakt"])
    sheet.append([601000001, 2270803628, datetime.datetime(2026, 12, 24)])
    sheet["B2"].number_format, sheet["C2"].number_format = "00000000000", "dd.mm.yyyy"
    job = previewed(logged_in, sales, book_bytes(book), name="leady.xlsx",
                    column_1="identifier", column_2="next_call_date")
    assert rows_by_number(job)[2].payload == {  # a date alone: from the start of its day
        "phone_number": "601000001", "identifier": "02270803628",
        "next_call_date": "2026-12-24 00:00"}


def test_the_mapping_page_names_the_sheet_read_and_another_may_be_chosen(logged_in, sales):
    book = openpyxl.Workbook()
    book.active.title = "Nowi"
    book["Nowi"].append(["Telefon", "Imię"])
    book["Nowi"].append([601000001, "Anna"])
    book.create_sheet("Już dzwonieni").append(["Telefon", "Imię", "Nazwisko"])
    book["Już dzwonieni"].append([602000002, "Jan", "Nowak"])
    book.active = 1  # saved while its user looked at the people already called
    response = upload(logged_in, sales, book_bytes(book), "leady.xlsx")
    job = ImportJob.objects.get()
    page = logged_in.get(response["Location"]).content.decode()
    assert "601000001" in page and "602000002" not in page
    assert ("This workbook has 2 sheets: the rows below are read from the sheet “Nowi” "
            "alone") in page
    assert '<option value="Już dzwonieni">Już dzwonieni</option>' in page
    response = logged_in.post(reverse("imports:sheet", args=[job.pk]),
                              {"sheet": "Już dzwonieni"}, follow=True)
    page = response.content.decode()
    assert "The sheet “Już dzwonieni” is read now: map its columns." in page
    assert "602000002" in page and "601000001" not in page
    job.refresh_from_db()
    assert (job.sheet, job.headers) == ("Już dzwonieni", ["Telefon", "Imię", "Nazwisko"])
    response = logged_in.post(reverse("imports:mapping", args=[job.pk]), mapping_post(job))
    assert response.status_code == 302
    assert [row.payload["phone_number"] for row in ImportRow.objects.filter(job=job)] == [
        "602000002"]
    response = logged_in.post(reverse("imports:sheet", args=[job.pk]), {"sheet": "Nowe"},
                              follow=True)
    assert "The workbook has no sheet named “Nowe”." in response.content.decode()
    job.refresh_from_db()
    assert (job.sheet, job.state) == ("Już dzwonieni", ImportJob.State.PREVIEWED)


SHEET_NAMED = "The sheet&#x27;s name holds a phone number"


@pytest.mark.parametrize(("title", "refused"), [
    ("Kowalska 601 234 567", True), ("tel. 601-234-567", True), ("Leady 2026-12-05", False)])
def test_a_workbook_whose_sheet_is_named_by_a_phone_number_is_refused(logged_in, sales,
                                                                      title, refused):
    """Its name is kept with the import and in its receipt's audit entry, where an erasure
    of the number does not reach it."""
    book = openpyxl.Workbook()
    book.active.title = title
    book.active.append(["Telefon", "Imię"])
    book.active.append([602000002, "Jan"])
    response = upload(logged_in, sales, book_bytes(book), "leady.xlsx")
    assert (SHEET_NAMED in response.content.decode()) == refused
    assert ImportJob.objects.exists() != refused


def test_a_sheet_named_by_a_phone_number_is_refused_beside_the_choice_kept(logged_in, sales):
    book = openpyxl.Workbook()
    book.active.title = "Nowi"
    book["Nowi"].append(["Telefon", "Imię"])
    book["Nowi"].append([601000001, "Anna"])
    book.create_sheet("Kowalska 601 234 567").append(["Telefon", "Imię"])
    book["Kowalska 601 234 567"].append([601234567, "Zofia"])
    job = previewed(logged_in, sales, book_bytes(book), name="leady.xlsx")

    response = logged_in.post(reverse("imports:sheet", args=[job.pk]),
                              {"sheet": "Kowalska 601 234 567"})

    assert response.status_code == 200
    page = response.content.decode()
    error = page.split('data-testid="sheet-error"')[1].split("</div></div>")[0]
    assert SHEET_NAMED + " (Kowalska 601 234 567)" in error
    assert "rename the sheet in the file" in error
    assert '<option value="Kowalska 601 234 567" selected>' in page
    assert 'aria-invalid="true"' in re.search(r'<select[^>]*id="id_sheet"[^>]*>', page)[0]
    job.refresh_from_db()
    assert (job.sheet, job.state) == ("Nowi", ImportJob.State.PREVIEWED)


def test_a_workbook_of_one_sheet_names_it_on_the_mapping_page(logged_in, sales):
    response = upload(logged_in, sales, xlsx_bytes(people(1)), "leady.xlsx")
    page = logged_in.get(response["Location"]).content.decode()
    assert "Excel workbook: the sheet “Sheet” is read" in page


def test_the_rows_above_the_column_names_are_not_imported_and_the_pages_say_so(logged_in,
                                                                              sales):
    """A title and its date above the column names were taken for them: the file was one
    column, and every row was refused as too wide."""
    content = xlsx_bytes([["Wygenerowano 06.12.2026 10:00"], [], HEADER, *people(3)],
                         header=["Eksport z CRM – leady"])
    job = previewed(logged_in, sales, content, name="eksport.xlsx")
    assert (job.header_row, job.headers, job.rows_valid) == (4, HEADER, 3)
    assert sorted(rows_by_number(job)) == [5, 6, 7]
    said = "The column names are read from row 4 of the file"
    assert said in logged_in.get(job.get_absolute_url()).content.decode()
    assert said in logged_in.get(reverse("imports:mapping", args=[job.pk])).content.decode()


def test_rows_an_excel_filter_hides_are_set_apart_unsent_saying_why(logged_in, sales):
    """A loader filtered the export to the people who agreed ("Zgoda" TAK) and saved it:
    the row filtered out was queued and counted as any other, without a word."""
    book = openpyxl.Workbook()
    for row in [["Telefon", "Imię", "Zgoda"], ["601000001", "Zofia", "TAK"],
                ["601000002", "Jan", "NIE"], ["601000003", "Ewa", "TAK"]]:
        book.active.append(row)
    book.active.auto_filter.ref = "A1:C4"
    book.active.row_dimensions[3].hidden = True
    job = previewed(logged_in, sales, book_bytes(book), name="zgody.xlsx")
    jan = rows_by_number(job)[3]
    assert (job.rows_total, job.rows_valid) == (3, 2)
    assert (jan.state, jan.phone_number, jan.values) == (RowState.HIDDEN, "", {})
    page = logged_in.get(job.get_absolute_url()).content.decode()
    assert 'data-count="hidden">1</dd>' in page
    assert "Excel hides this row (filtered out, or hidden by hand), so it is not sent" in page
    page = logged_in.get(reverse("imports:mapping", args=[job.pk])).content.decode()
    assert "601000001" in page and "601000002" not in page  # not among the first rows shown
    assert import_confirm(job=job)
    import_cancel(job=ImportJob.objects.get(pk=job.pk))
    assert ImportJob.objects.get(pk=job.pk).receipt.results["rows_hidden"] == 1


def test_a_column_excel_hides_is_marked_and_never_proposed(logged_in, sales):
    """A CRM's old landline, hidden beside the mobile, was proposed as the phone."""
    book = openpyxl.Workbook()
    for row in [["Telefon", "Komórka", "Imię"], ["221234567", "601000001", "Zofia"]]:
        book.active.append(row)
    book.active.column_dimensions["A"].hidden = True
    response = upload(logged_in, sales, book_bytes(book), "kontakty.xlsx")
    job = ImportJob.objects.get()
    assert job.mapping == ["", "phone_number", "record_fields.imie"]
    assert "Telefon (hidden)" in logged_in.get(response["Location"]).content.decode()
    saved = ImportTemplate.objects.create(campaign=sales, name="Stary", saved_by="manager",
                                          mapping={"Telefon": "phone_number"})
    page = logged_in.get(response["Location"], {"template": saved.pk})
    assert page.context["form"]["column_0"].initial == ""


def test_a_formula_s_saved_value_is_sent_and_text_is_text_whatever_it_begins_with(
    logged_in, sales
):
    """A formula Excel saved with its value was refused, as was a text cell "=== VIP ===";
    a formula a script wrote, saving no value, still is."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Telefon", "Imię", "Nazwisko", "Miasto"])
    sheet.append([1, "Jan", 2, 3])
    sheet.append([601000002, "=== VIP ===", "Lis", "Kraków"])
    sheet["B3"].data_type = "s"  # typed as text, as Excel keeps it
    sheet.append([601000003, "Ewa", "=B4", ""])  # as openpyxl writes it: no value saved
    content = book_bytes(book)
    for cell, as_excel_saves_it in [  # each formula with the value Excel computed
            ('<c r="A2" t="n"><v>1</v></c>', '<c r="A2"><f>600000000+1001</f><v>601001001</v></c>'),
            ('<c r="C2" t="n"><v>2</v></c>',
             '<c r="C2" t="str"><f>PROPER("nowak")</f><v>Nowak</v></c>'),
            ('<c r="D2" t="n"><v>3</v></c>', '<c r="D2" t="str"><f>IF(1,"","x")</f><v></v></c>')]:
        content = sheet_patched(content, cell, as_excel_saves_it)
    by_number = rows_by_number(previewed(logged_in, sales, content, name="leady.xlsx"))
    assert by_number[2].payload == {"phone_number": "601001001",
                                    "record_fields": {"imie": "Jan", "nazwisko": "Nowak"}}
    assert by_number[3].payload["record_fields"]["imie"] == "=== VIP ==="
    assert by_number[4].problems == [
        "nazwisko holds a formula (=B4); the portal imports values only: paste the values "
        "into the spreadsheet instead."]


def book_bytes(book) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(("content", "name", "says"), [
    (b"", "pusty.csv", "The submitted file is empty."),
    (b"\r\n\r\n", "pusty.csv", "The file is empty."),
    (bytes(range(256)) * 4, "dane.csv", "This is not a text file"),
    (b"Telefon;Imie\r\n", "naglowek.csv", "header row but no rows below it"),
    # No header: the first person would be lost to it, their number kept as a column name.
    (b"Zofia;+48 601 000 007\r\nJan;601000008\r\n", "bez-naglowka.csv",
     "holds a phone number (+48 601 000 007): add a row of column names"),
    # Spelled as a cell the record form refuses, which the erasure finds in rows, but not
    # in the column names kept with the import, its receipt and a saved mapping.
    (b"601 234 567 wew. 12;Zofia;Kowalska\r\n602000001;Jan;Nowak\r\n",
     "bez-naglowka.csv", "holds a phone number (601 234 567 wew. 12)"),
    ("tel. 601–234–567;Zofia\r\n602000001;Jan\r\n".encode(), "bez-naglowka.csv",
     "holds a phone number (tel. 601–234–567)"),
    # Grouped by Polish Excel with no-break spaces.
    ("601\xa0234\xa0567;Zofia\r\n602000001;Jan\r\n".encode(), "bez-naglowka.csv",
     "holds a phone number (601\xa0234\xa0567)"),
    # 103 KB whose first cell held 100 MB: kept as the name of its first column.
    (long_first_cell_xlsx(10), "leady.xlsx", "holds more than a spreadsheet program writes"),
])
def test_a_bad_file_is_refused_next_to_the_field(logged_in, sales, content, name, says):
    response = upload(logged_in, sales, content, name)
    assert response.status_code == 200
    assert says in response.content.decode()
    assert ImportJob.objects.count() == 0


@pytest.mark.parametrize(("name", "refused"), [
    ("leady_601234567.csv", True), ("Kowalska 601-234-567.csv", True),
    ("leady_601_234_567.xlsx", True), ("leady_2026-12-05_1200.csv", False),
    # A date then a digit (a browser's copy number) read as a Warsaw landline, 22 112 02 51.
    ("leady 22.11.2025 (1).csv", False),
])
def test_a_file_named_by_a_phone_number_is_refused(logged_in, sales, name, refused):
    """Its name is kept with the import and in the audit trail (a search term), where an
    erasure of the number does not reach it."""
    content = xlsx_bytes(people(1)) if name.endswith(".xlsx") else csv_bytes(people(1))
    response = upload(logged_in, sales, content, name)
    assert ("The file&#x27;s name holds a phone number" in response.content.decode()) == refused
    assert ImportJob.objects.exists() != refused


def test_columns_named_by_dates_are_no_phone_numbers(logged_in, sales):
    header = ["Telefon", "01.12.2026", "2026-12-02"]
    response = upload(logged_in, sales, csv_bytes([["601000001", "tak", "nie"]], header=header))
    assert response.status_code == 302
    assert ImportJob.objects.get().headers == header


def test_a_file_over_the_size_limit_is_refused(logged_in, sales, settings):
    settings.IMPORT_MAX_FILE_SIZE = 1000
    response = upload(logged_in, sales, csv_bytes(people(100)))
    assert "KB; the portal takes files of at most 1000\xa0bytes." in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_a_file_with_no_phone_column_cannot_be_previewed(logged_in, sales):
    upload(logged_in, sales, csv_bytes([["Zofia", "Nowak"]], header=["Imię", "Nazwisko"]))
    job = ImportJob.objects.get()
    response = logged_in.post(reverse("imports:mapping", args=[job.pk]), mapping_post(job))
    assert response.status_code == 200
    assert "Choose the column that holds the phone number" in response.content.decode()
    job.refresh_from_db()
    assert (job.state, job.rows.count()) == ("uploaded", 0)


def test_a_target_chosen_twice_is_refused(logged_in, sales):
    upload(logged_in, sales, csv_bytes(people(1)))
    job = ImportJob.objects.get()
    response = logged_in.post(reverse("imports:mapping", args=[job.pk]),
                              mapping_post(job, column_2="record_fields.imie"))
    assert "imie is already chosen for the column Imię." in response.content.decode()


def test_the_user_can_correct_the_encoding_and_separator(logged_in, sales):
    content = csv_bytes([["601000001", "Łukasz"]], header=["Telefon", "Imię"],
                        encoding="iso-8859-2", delimiter=",")
    upload(logged_in, sales, content)
    job = ImportJob.objects.get()
    logged_in.post(reverse("imports:read_options", args=[job.pk]),
                   {"encoding": "cp1250", "delimiter": ";"})
    job.refresh_from_db()
    assert job.headers == ["Telefon,Imię"]  # one column: the wrong separator
    logged_in.post(reverse("imports:read_options", args=[job.pk]),
                   {"encoding": "iso-8859-2", "delimiter": ","})
    job.refresh_from_db()
    assert job.headers == ["Telefon", "Imię"]
    assert job.mapping == ["phone_number", "record_fields.imie"]


def test_a_previewed_file_read_again_drops_its_preview(logged_in, sales, thulium):
    """Its rows were cut from the file as it was read before: confirmed, they would be sent
    so. Read again, the import is to map and check anew."""
    job = previewed(logged_in, sales, csv_bytes(people(2)))
    logged_in.post(reverse("imports:read_options", args=[job.pk]),
                   {"encoding": "utf-8", "delimiter": ","})
    job.refresh_from_db()
    assert (job.state, job.rows_total, job.rows_valid) == (ImportJob.State.UPLOADED, 0, 0)
    assert job.rows.count() == 0
    logged_in.post(reverse("imports:confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.state == ImportJob.State.UPLOADED


def test_a_file_whose_first_row_spells_a_number_read_any_way_is_refused(logged_in, sales):
    """Read with ";" (as detected) the first row's cells are a number and two names; read
    with "," a number with a name after it. Kept as the header either way, the number would
    be a column's name in the receipt, for good."""
    response = upload(logged_in, sales, b"601234567;Kowalska, Zofia;Lodz, ul. A, 1\r\n"
                                        b"602000001;Nowak, Jan;Krakow, ul. B, 2\r\n")
    assert "holds a phone number (601234567)" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_template_named_by_a_digit_no_id_is_offers_none(logged_in, sales):
    upload(logged_in, sales, csv_bytes(people(1)))
    job = ImportJob.objects.get()
    page = logged_in.get(reverse("imports:mapping", args=[job.pk]), {"template": "²"})
    assert page.status_code == 200


def test_the_mapping_reads_only_the_start_of_a_large_file(logged_in, sales, monkeypatch):
    """Its header and first rows: a 20 MB file was read whole to show four rows."""
    upload(logged_in, sales, csv_bytes(people(5000)))  # 220 kB
    job = ImportJob.objects.get()
    monkeypatch.setattr(services, "upload_content",
                        lambda job: pytest.fail("the whole file was read"))
    page = logged_in.get(reverse("imports:mapping", args=[job.pk])).content.decode()
    assert "601000002" in page and "Kowalska-2" in page
    response = logged_in.post(reverse("imports:read_options", args=[job.pk]),
                              {"encoding": "iso-8859-2", "delimiter": ","}, follow=True)
    assert "The file was read again with these settings." in response.content.decode()
    assert len(ImportJob.objects.get().headers) == 1  # the wrong separator: one column


def test_first_rows_longer_than_the_start_read_are_read_from_the_whole_file(logged_in, sales):
    rows = [["601000001", "Zofia", "x" * 70_000, "Łódź"], *people(3, first=602000000)]
    upload(logged_in, sales, csv_bytes(rows))
    job = ImportJob.objects.get()
    page = logged_in.get(reverse("imports:mapping", args=[job.pk])).content.decode()
    assert "601000001" in page and "602000001" in page


def test_a_saved_template_maps_the_next_file(logged_in, sales):
    header = ["Kontakt", "Kto", "Skąd"]
    upload(logged_in, sales, csv_bytes([["601000001", "Jan", "Łódź"]], header=header))
    job = ImportJob.objects.get()
    assert job.mapping == ["", "", ""]
    logged_in.post(reverse("imports:mapping", args=[job.pk]), {
        "column_0": "phone_number", "column_1": "record_fields.imie",
        "column_2": "record_fields.miasto", "template_name": "Leady z targów",
    })
    template = ImportTemplate.objects.get()
    assert template.mapping == {"Kontakt": "phone_number", "Kto": "record_fields.imie",
                                "Skąd": "record_fields.miasto"}
    upload(logged_in, sales, csv_bytes([["602000000", "Ewa", "Gdańsk"]], header=header))
    second = ImportJob.objects.latest("pk")
    page = logged_in.get(
        reverse("imports:mapping", args=[second.pk]) + f"?template={template.pk}"
    ).content.decode()
    assert '<option value="record_fields.miasto" selected>' in page
    for nonsense in ("abc", "99999", "1 OR 1=1"):
        response = logged_in.get(reverse("imports:mapping", args=[second.pk]),
                                 {"template": nonsense})
        assert response.status_code == 200


def test_a_template_saved_while_a_worker_checks_the_file_keeps_the_columns_chosen(
    logged_in, sales, settings
):
    """A file a worker checks: the mapping chosen was saved with the check, and the template
    took the one proposed before (replacing a good one of the same name)."""
    header = ["Kontakt", "Kto", "Skąd"]
    content = csv_bytes([["601000001", "Jan", "Łódź"]], header=header)
    settings.IMPORT_CHECK_INLINE_BYTES = len(content) - 1
    upload(logged_in, sales, content)
    job = ImportJob.objects.get()
    logged_in.post(reverse("imports:mapping", args=[job.pk]), {
        "column_0": "phone_number", "column_1": "record_fields.imie",
        "column_2": "record_fields.miasto", "template_name": "Duże pliki"})
    assert ImportTemplate.objects.get().mapping == {
        "Kontakt": "phone_number", "Kto": "record_fields.imie", "Skąd": "record_fields.miasto"}


def test_a_saved_mapping_keeps_which_of_two_columns_of_one_name_is_the_phone(logged_in, sales):
    """A landline and a mobile column, both "Telefon": the mobile one stays the phone."""
    header = ["Telefon", "Imię", "Telefon", "Miasto"]
    previewed(logged_in, sales, csv_bytes([["221234567", "Zofia", "601234567", "Łódź"]],
                                          header=header),
              column_0="", column_2="phone_number", template_name="Komórki")
    template = ImportTemplate.objects.get(name="Komórki")
    assert template.mapping["Telefon"] == "" and template.mapping["Telefon (2)"] == "phone_number"
    upload(logged_in, sales, csv_bytes([["222222222", "Ewa", "602000000", "Gdańsk"]],
                                       header=header))
    second = ImportJob.objects.latest("pk")
    page = logged_in.get(reverse("imports:mapping", args=[second.pk]),
                         {"template": template.pk}).content.decode()
    selects = re.findall(r'<select name="column_(\d)"(.*?)</select>', page, re.DOTALL)
    assert [column for column, options in selects
            if '<option value="phone_number" selected>' in options] == ["2"]


def test_a_saved_mapping_is_deleted_from_the_mapping_page(logged_in, sales, campaigns):
    previewed(logged_in, sales, csv_bytes(people(1)), template_name="Stary")
    template = ImportTemplate.objects.get(name="Stary")
    other = ImportTemplate.objects.create(campaign=campaigns["00002"], name="Obcy", mapping={},
                                          saved_by="ktoś")
    upload(logged_in, sales, csv_bytes(people(1)))
    job = ImportJob.objects.latest("pk")
    mapping = reverse("imports:mapping", args=[job.pk])
    page = logged_in.get(mapping, {"template": template.pk}).content.decode()
    assert "Delete the saved mapping “Stary”" in page
    delete = reverse("imports:template_delete", args=[job.pk, template.pk])
    assert f'action="{delete}"' in page

    done = logged_in.post(delete, follow=True)

    assert done.redirect_chain[-1][0] == mapping
    assert "The saved mapping “Stary” was deleted." in done.content.decode()
    assert not ImportTemplate.objects.filter(pk=template.pk).exists()
    # Only the import's campaign's own: another campaign's stays; a second click is quiet.
    for pk in (other.pk, template.pk):
        logged_in.post(reverse("imports:template_delete", args=[job.pk, pk]))
    assert ImportTemplate.objects.filter(pk=other.pk).exists()


def test_problems_are_paged(logged_in, sales):
    rows = [[f"{n}", "x", "y", "z"] for n in range(120)]  # all too short to be numbers
    job = previewed(logged_in, sales, csv_bytes(rows))
    assert job.rows_valid == 0
    first = logged_in.get(job.get_absolute_url()).content.decode()
    third = logged_in.get(job.get_absolute_url() + "?page=3").content.decode()
    assert "Page 1 of 3" in first and "Page 3 of 3" in third
    assert "<td>121</td>" in third and "<td>121</td>" not in first
    # The links between pages keep nothing else of the address.
    assert '<a class="page-link" href="?page=2">' in first
    assert '<a class="page-link" href="?page=2">' in third
    assert "Send 0 rows" not in first  # nothing to confirm


def test_a_large_file_is_previewed_in_full(logged_in, sales):
    job = previewed(logged_in, sales, csv_bytes(people(5000)))
    assert (job.rows_total, job.rows_valid) == (5000, 5000)
    assert ImportRow.objects.filter(job=job, state=RowState.QUEUED).count() == 5000
    # Its counts grouped as each language writes them.
    page = logged_in.get(job.get_absolute_url()).content.decode()
    assert 'data-count="rows">5,000<' in page and "Send 5,000 rows to Thulium" in page
    page = logged_in.get(job.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert 'data-count="rows">5\xa0000<' in page and "Wyślij 5\xa0000 wierszy do Thulium" in page


def test_the_uploaded_bytes_are_kept_and_read_exactly(sales, user):
    """Every byte value, NUL and backslash among them, as PostgreSQL is given them as a
    binary parameter and asked for them in binary (imports.storing)."""
    content = bytes(range(256)) * 4096  # 1 MiB
    job = import_upload(campaign=sales, actor=user, file_name="raw.csv", content=content,
                        layout=FileLayout(kind="csv", encoding="utf-8", delimiter=";"))
    with CaptureQueriesContext(connection) as queries:
        assert upload_content(job) == content
    # Not through Django's cursor on PostgreSQL: it reads the column as hex text.
    assert len(queries) == (0 if connection.vendor == "postgresql" else 1)
