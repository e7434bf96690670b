"""The rows a preview set aside as wrong, downloaded as the file has them, to correct and
upload again."""

import csv
import io

import pytest
from django.urls import reverse

from imports.models import ImportJob, RowState
from imports.services import import_cancel, import_confirm
from tests.import_files import csv_bytes, previewed, xlsx_bytes

pytestmark = pytest.mark.django_db

HEADER = ["Telefon", "Imię", "Miasto", "Następny kontakt"]
ROWS = [
    ["601000001", "Zofia", "Łódź", ""],                 # row 2: sent
    ["12", "Jan", "Gdynia", ""],                        # row 3: the number is wrong
    ["601000001", "Zofia", "Łódź", ""],                 # row 4: the same number as row 2
    ["+48 601 000 004", "Ewa", "Kraków", "jutro"],      # row 5: the date is wrong
    ["601000009", "Adam", "Gdańsk", ""],                # row 6: added by hand before
    ["601000007", "Ola", "=HYPERLINK(\"x\")", ""],       # row 7: a formula
]


@pytest.fixture
def sales(campaigns):
    return campaigns["00001"]


@pytest.fixture
def job(logged_in, sales):
    logged_in.post(reverse("records:new", args=["00001"]), {"phone_number": "601000009"})
    return previewed(logged_in, sales, csv_bytes(ROWS, header=HEADER, encoding="cp1250"),
                     name="leady maj.csv")


def downloaded(client, job) -> list[list[str]]:
    response = client.get(reverse("imports:rows_to_fix", args=[job.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="leady maj-to-fix.csv"'
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel then reads UTF-8
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


def test_the_preview_offers_the_rows_to_correct_as_the_file_has_them_with_why(logged_in, job):
    assert [row.state for row in job.rows.order_by("number")] == [
        RowState.QUEUED, RowState.INVALID, RowState.DUPLICATE, RowState.INVALID,
        RowState.ALREADY_ADDED, RowState.INVALID]
    page = logged_in.get(job.get_absolute_url()).content.decode()
    assert reverse("imports:rows_to_fix", args=[job.pk]) in page

    header, *rows = downloaded(logged_in, job)
    assert header == ["Row", *HEADER, "Why it was not sent"]
    # The rows a correction can mend, each after its number in the file, which the reasons
    # name rows by; in the file's order and cells (its Polish letters read from
    # Windows-1250), a formula made plain text; not a number already added.
    assert [row[:5] for row in rows] == [
        ["3", *ROWS[1]], ["4", *ROWS[2]], ["5", "'+48 601 000 004", "Ewa", "Kraków", "jutro"],
        ["7", "601000007", "Ola", "'=HYPERLINK(\"x\")", ""]]
    assert rows[0][5].startswith("Phone number: ")
    assert rows[1][5] == "The same phone number as row 2."
    assert rows[2][5].startswith("Next call: Enter a date and time as ")
    assert rows[3][5].startswith("miasto holds a formula")


def test_the_rows_to_correct_name_their_numbers_column_in_the_loader_s_language(logged_in,
                                                                                job):
    logged_in.cookies["django_language"] = "pl"
    response = logged_in.get(reverse("imports:rows_to_fix", args=[job.pk]))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Wiersz;Telefon;")


def test_the_rows_corrected_and_uploaded_again_are_sent(logged_in, sales, job):
    """Only what was wrong is corrected: the quote that kept "+48..." from being read as a
    formula stays, and is read as that (the number was refused for it)."""
    header, *rows = downloaded(logged_in, job)
    rows[0][1], rows[1][1], rows[2][4] = "601000003", "601000005", "24.12.2026 10:00"
    rows[3][3] = "Sopot"

    corrected = io.StringIO()
    csv.writer(corrected, delimiter=";").writerows([header, *rows])
    again = previewed(logged_in, sales, corrected.getvalue().encode(), name="poprawione.csv")

    assert again.mapping[0] == again.mapping[-1] == ""  # the rows' numbers and reasons: left out
    assert again.rows_valid == again.rows_total == 4


def test_an_xlsx_files_rows_come_as_csv(logged_in, sales):
    job = previewed(logged_in, sales, xlsx_bytes([["601000001"], ["abc"]], header=["Telefon"]),
                    name="leady.xlsx")
    response = logged_in.get(reverse("imports:rows_to_fix", args=[job.pk]))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert response["Content-Disposition"] == 'attachment; filename="leady-to-fix.csv"'
    assert text.splitlines()[1].startswith('3;abc;"Phone number: ')


def test_a_row_wider_than_the_header_has_its_reason_under_the_reason_s_header(logged_in,
                                                                              sales):
    rows = [["12", "Jan", "Gdynia", "", "a note past the header"], ["13"]]
    job = previewed(logged_in, sales, csv_bytes(rows, header=HEADER), name="leady maj.csv")
    header, *fix = downloaded(logged_in, job)
    why = header.index("Why it was not sent")
    assert [row[why][:22] for row in fix] == ["This row has values in", "This row has 1 cell wh"]
    assert fix[0][why + 1:] == ["a note past the header"]


def test_once_the_import_ended_its_file_is_gone_and_the_page_says_so(logged_in, job):
    assert import_confirm(job=job)
    import_cancel(job=ImportJob.objects.get(pk=job.pk))  # no worker took it: it ends

    response = logged_in.get(reverse("imports:rows_to_fix", args=[job.pk]), follow=True)

    assert response.redirect_chain == [(job.get_absolute_url(), 302)]
    assert "no longer keeps its file" in response.content.decode()
    assert reverse("imports:rows_to_fix", args=[job.pk]) not in response.content.decode()


def test_a_file_without_rows_to_correct_offers_none(logged_in, sales):
    job = previewed(logged_in, sales, csv_bytes([["601000001", "Zofia", "Łódź", ""]],
                                                header=HEADER))
    assert reverse("imports:rows_to_fix", args=[job.pk]) not in (
        logged_in.get(job.get_absolute_url()).content.decode())
