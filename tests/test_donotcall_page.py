"""The do-not-call list's page: adding, searching, removing, uploading and exporting, with
bad input answered next to its field and the input kept."""

import datetime
import io
import re

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import trans_real

from audit.models import Entry, SearchTerm
from donotcall import services
from donotcall.entries import DONOTCALL_ADDITION, DONOTCALL_UPLOAD
from donotcall.models import Suppression
from portal.middleware import UPLOAD_ROOM
from portal.paging import LongTablePaginator
from tests.conftest import COMPLIANCE, LOADERS, make_user, skip_unless_postgresql
from tests.import_files import csv_bytes, long_first_cell_xlsx, streamed_xlsx
from tests.test_record_form import TWO_NUMBERS


@pytest.fixture
def officer_client(client, db):
    client.force_login(make_user("officer", COMPLIANCE))
    return client


def add(client, number="601 234 567", **fields):
    return client.post(reverse("donotcall:add"), {
        "phone_number": number, "campaign": "", "reason": "request", "note": "", **fields})


def upload(client, content, name="lista.csv", **fields):
    return client.post(reverse("donotcall:upload"), {
        "file": SimpleUploadedFile(name, content), "campaign": "", "reason": "complaint",
        **fields})


def test_an_officer_adds_a_number_and_sees_it_listed(officer_client, campaigns):
    response = add(officer_client, campaign="00001", note="prosiła telefonicznie")
    assert response.status_code == 302
    page = officer_client.get(reverse("donotcall:list")).content.decode()
    assert "+48601234567" in page
    assert "prosiła telefonicznie" in page
    entry = Suppression.objects.get()
    assert (entry.campaign.thulium_id, entry.source, entry.added_by_username) == (
        "00001", "typed", "officer")
    assert Entry.objects.filter(kind=DONOTCALL_ADDITION.slug).count() == 1


@pytest.mark.parametrize(("number", "message"), [
    ("12ab", "Enter a phone number of 6 to 15 digits"),
    ("", "This field is required"),
])
def test_a_malformed_number_is_refused_next_to_the_field(officer_client, number, message):
    response = add(officer_client, number, note="kept note")
    assert response.status_code == 400
    form = response.context["form"]
    assert message in " ".join(form.errors["phone_number"])
    assert 'value="kept note"' in response.content.decode() or "kept note" in \
        response.content.decode()
    assert not Suppression.objects.exists()


@pytest.mark.parametrize(("number", "message"), [
    *((number, "is no number of that country: check its digits")
      for number in ("+48 0601 234 567", "+48 0 601 234 567", "0048 0601234567",
                     "+48 (022) 555 66 77", "+48 601 234 56", "6012345678")),
    ("22 123 45 67/68", TWO_NUMBERS.format("/")),
])
def test_a_number_the_record_form_refuses_is_refused_with_its_message(officer_client, number,
                                                                      message):
    """Listed under a key no number the record form sends has ("480601234567",
    "4822123456768"), it blocked nothing: "601 234 567" was then added to a campaign and
    called."""
    response = add(officer_client, number)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors["phone_number"])
    assert not Suppression.objects.exists()
    searched = officer_client.get(reverse("donotcall:list"), {"number": number})
    assert message in " ".join(searched.context["search"].errors["number"])


def test_switching_language_on_a_refused_form_goes_back_to_the_form_s_page(officer_client):
    """The refusal is the answer to a post, at an address that takes posts only."""
    listing = "http://testserver" + reverse("donotcall:list")
    refused = officer_client.post(reverse("donotcall:add"), {"phone_number": "12ab"},
                                  HTTP_REFERER=listing)
    back_to = re.search(r'name="next" type="hidden" value="([^"]*)"', refused.content.decode())

    switched = officer_client.post(reverse("set_language"),
                                   {"language": "pl", "next": back_to.group(1)}, follow=True)

    assert switched.redirect_chain == [(reverse("donotcall:list"), 302)]
    assert switched.status_code == 200
    assert "Lista zastrzeżonych numerów" in switched.content.decode()


def test_a_duplicate_is_refused_with_the_input_kept(officer_client):
    add(officer_client)
    response = add(officer_client, "+48 601-234-567")
    assert response.status_code == 400
    assert "on the do-not-call list for this scope already" in " ".join(
        response.context["form"].errors["phone_number"])
    assert 'value="+48 601-234-567"' in response.content.decode()
    assert Suppression.objects.count() == 1


def test_a_past_expiry_is_accepted_with_a_note_and_listed_as_expired(officer_client):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    response = add(officer_client, expires_on=yesterday.isoformat())
    page = officer_client.get(response["Location"]).content.decode()
    assert "does not block" in page
    assert 'data-testid="expired"' in page


@pytest.mark.parametrize("typed", ["01/31/2027", "01/02/2027", "27-01-31"])
def test_an_expiry_that_could_be_read_two_ways_is_refused_next_to_its_field(officer_client,
                                                                          typed):
    """Django's formats for English read "01/02/2027" as 2 January: a block meant to end on
    1 February ended a month early."""
    response = add(officer_client, expires_on=typed)

    assert response.status_code == 400
    assert response.context["form"].errors["expires_on"] == [
        "Enter a date as YYYY-MM-DD or DD.MM.YYYY."]
    assert not Suppression.objects.exists()


def test_an_expiry_is_read_day_first_when_written_with_dots(officer_client):
    add(officer_client, expires_on="01.02.2027")
    assert Suppression.objects.get().expires_on == datetime.date(2027, 2, 1)


def test_the_list_writes_its_dates_as_the_language_does(officer_client):
    add(officer_client, expires_on="2027-01-31")
    added = timezone.localtime(Suppression.objects.get().created_at)
    polish = officer_client.get(reverse("donotcall:list"), HTTP_ACCEPT_LANGUAGE="pl")
    assert "31.01.2027" in polish.content.decode()
    assert added.strftime("%d.%m.%Y %H:%M") in polish.content.decode()
    english = officer_client.get(reverse("donotcall:list"), HTTP_ACCEPT_LANGUAGE="en")
    assert "2027-01-31" in english.content.decode()


def test_search_by_number_in_any_spelling_and_filters(officer_client, campaigns):
    add(officer_client, "601000001")
    add(officer_client, "601000002", campaign="00001", reason="regulator")
    listing = reverse("donotcall:list")

    def numbers(**query):
        page = officer_client.get(listing, query)
        return sorted(entry.phone_key for entry in page.context["page"])

    assert numbers(number="+48 601 000 001") == ["48601000001"]
    assert numbers(scope="all") == ["48601000001"]
    assert numbers(scope="00001") == ["48601000002"]
    assert numbers(reason="regulator") == ["48601000002"]
    assert numbers(number="x") == []  # not a number: nothing found, no error page


def test_removal_needs_a_reason(officer_client):
    add(officer_client)
    suppression = Suppression.objects.get()
    url = reverse("donotcall:remove", args=[suppression.pk])
    response = officer_client.post(url, {"reason": ""})
    assert response.status_code == 400
    assert response.context["form"].errors["reason"]
    assert Suppression.objects.exists()
    # Kept in the audit trail as typed, out of an erasure's reach: no number in it.
    named = officer_client.post(url, {"reason": "klient 601 000 001 prosi o kontakt"})
    assert named.status_code == 400
    assert "Leave the phone number out" in named.context["form"].errors["reason"][0]
    assert "klient 601 000 001" in named.content.decode()  # the input stays in the form
    # A date and a time are no number, though their digits run on into one (22 112 02 59).
    assert officer_client.post(url, {"reason": "wpis omyłkowy, rozmowa 22.11.2025 9:30"}
                               ).status_code == 302
    assert not Suppression.objects.exists()


def test_an_upload_named_by_a_phone_number_is_refused_keeping_the_input(officer_client):
    response = upload(officer_client, csv_bytes([["601000001"]], header=["Telefon"]),
                      name="skarga_601234567.csv", note="pismo z 3 grudnia")
    assert "The file&#x27;s name holds a phone number" in response.content.decode()
    assert "pismo z 3 grudnia" in response.content.decode()
    assert not Suppression.objects.exists()


def test_an_upload_in_windows_1250_reports_invalid_lines_and_counts_repeats(officer_client):
    add(officer_client, "601000003")
    content = csv_bytes([["601000001", "Łukasz"], ["abc", "Źdźbło"], ["601 000 001", "Ścibor"],
                         ["601000002", "Żaneta"], ["601000003", "Ćma"], ["4,86012E+11", "Ola"]],
                        header=["Numer telefonu", "Imię"], encoding="cp1250")
    response = upload(officer_client, content)
    assert response.status_code == 200
    read = response.context["read"]
    # Each line without a number says why, as the record form would.
    assert [(line, value) for line, value, _why in read.invalid] == [(3, "abc"),
                                                                   (7, "4,86012E+11")]
    assert read.invalid[0][2].startswith("Enter a phone number of 6 to 15 digits")
    assert read.invalid[1][2].startswith("Excel wrote this number in scientific notation")
    assert read.invalid[1][2] in response.content.decode()
    assert read.repeated == 1
    assert response.context["counts"] == (2, 0, 1)
    assert set(Suppression.objects.filter(source="upload").values_list(
        "phone_key", flat=True)) == {"48601000001", "48601000002"}
    # One entry for the upload, with its counts; each listed row points at it.
    entry = Entry.objects.get(kind=DONOTCALL_UPLOAD.slug)
    assert (entry.sent["file_name"], entry.details) == ("lista.csv", {
        "added": 2, "renewed": 0, "already": 1, "repeated": 1, "invalid": 2})
    assert set(Suppression.objects.filter(source="upload").values_list(
        "upload_entry", flat=True)) == {entry.pk}


def test_an_upload_lists_the_numbers_the_record_form_refuses_as_invalid(officer_client):
    content = csv_bytes([["+48 0601 234 567"], ["+48 601 234 56"], ["601 000 001"],
                         ["22 123 45 67/68"]], header=["Telefon"])
    response = upload(officer_client, content)
    read = response.context["read"]
    assert [(line, value) for line, value, _why in read.invalid] == [
        (2, "+48 0601 234 567"), (3, "+48 601 234 56"), (5, "22 123 45 67/68")]
    assert "is no number of that country" in read.invalid[0][2]
    assert read.invalid[2][2] == TWO_NUMBERS.format("/")
    assert read.invalid_count == 3
    assert list(Suppression.objects.values_list("phone_key", flat=True)) == ["48601000001"]


@pytest.mark.parametrize("header", [["Numer klienta", "Telefon"], ["Nr umowy", "Komórka"],
                                    ["Hotel", "Mobile phone"], ["Nr klienta", "Nr kontaktowy"],
                                    ["ID", "Kontakt"]])
def test_an_upload_takes_the_column_its_header_names_a_phone_not_another_number(
    officer_client, header
):
    content = csv_bytes([["1002345", "601 000 001"], ["1002346", "601 000 002"]], header=header)
    upload(officer_client, content)
    assert set(Suppression.objects.values_list("phone_key", flat=True)) == {
        "48601000001", "48601000002"}


def test_an_upload_racing_another_listing_of_one_of_its_numbers_lists_them_all(
    officer_client, monkeypatch
):
    """A number listed by a colleague between the upload's reading of the list and its
    writing failed the whole upload with a server error."""
    colleague, real = make_user("colleague", COMPLIANCE), services.listed
    raced = []

    def listed_then_raced(keys, campaign):
        found = real(keys, campaign)
        if not raced:
            raced.append(services.suppression_add(key="48601000001", campaign=None,
                                                  reason="request", source="typed",
                                                  actor=colleague))
        return found

    monkeypatch.setattr(services, "listed", listed_then_raced)
    response = upload(officer_client, csv_bytes([["601 000 001"], ["601 000 002"]],
                                                header=["Telefon"]))
    assert response.status_code == 200
    assert set(Suppression.objects.values_list("phone_key", flat=True)) == {
        "48601000001", "48601000002"}


def test_an_upload_that_dies_midway_leaves_nothing_and_uploaded_again_lists_it_all(
    officer_client, monkeypatch
):
    """One transaction, with one audit entry: a request stopped midway lists none of its
    numbers, and its file uploaded again lists them all."""
    numbers = [[f"60100000{digit}"] for digit in range(1, 6)]
    add_terms = services.entry_numbers_add

    def dying(entry, *, digests):
        add_terms(entry, digests=digests)
        raise RuntimeError("the web worker was stopped")

    monkeypatch.setattr(services, "entry_numbers_add", dying)
    with pytest.raises(RuntimeError):
        upload(officer_client, csv_bytes(numbers, header=["Telefon"]))
    assert not Suppression.objects.exists()
    assert not Entry.objects.exists()
    monkeypatch.setattr(services, "entry_numbers_add", add_terms)
    response = upload(officer_client, csv_bytes(numbers, header=["Telefon"]))
    assert response.context["counts"] == (5, 0, 0)
    assert "5 numbers put on the list." in response.content.decode()
    assert Entry.objects.get().kind == DONOTCALL_UPLOAD.slug


def test_an_upload_past_the_old_limit_of_20_000_numbers_is_listed_with_one_entry(
        officer_client):
    """Past 20,000 numbers a file was refused (an audit entry per number took a second per
    thousand): a contact centre's list of 100,000 to 500,000 was split by hand. (On SQLite,
    which writes row by row, this would take long: the setting's test below runs on both.)"""
    skip_unless_postgresql(connection)
    numbers = [[str(500_000_000 + n)] for n in range(20_001)]
    response = upload(officer_client, csv_bytes(numbers, header=["Telefon"]))
    assert response.status_code == 200
    assert response.context["counts"] == (20_001, 0, 0)
    assert Suppression.objects.count() == 20_001
    entry = Entry.objects.get()
    assert entry.details["added"] == 20_001
    assert SearchTerm.objects.filter(entry=entry).count() == 20_001 + 1  # and its file name


def test_the_most_numbers_an_upload_takes_is_one_setting_said_next_to_the_field(
    officer_client, settings
):
    """Past the most, the officer is told next to the file field, with nothing written and
    the input kept; the field's help says the most before the file is chosen."""
    settings.DONOTCALL_UPLOAD_MOST = 1_000_000
    page = officer_client.get(reverse("donotcall:upload")).content.decode()
    assert "At most 1,000,000 numbers a file." in page
    settings.DONOTCALL_UPLOAD_MOST = 3
    page = officer_client.get(reverse("donotcall:upload")).content.decode()
    assert "At most 3 numbers a file." in page
    repeated = [["601000001"], ["601000002"], ["601 000 001"], ["601000003"]]
    assert upload(officer_client, csv_bytes(repeated, header=["Telefon"])).status_code == 200
    Suppression.objects.all().delete()
    response = upload(officer_client, csv_bytes([*repeated, ["601000004"]], header=["Telefon"]),
                      note="zachowana notatka")
    assert response.status_code == 400
    assert ("The file holds more than 3 numbers, the most one upload takes: split it into "
            "files of at most 3 numbers.") in " ".join(response.context["form"].errors["file"])
    assert "zachowana notatka" in response.content.decode()
    assert not Suppression.objects.exists()
    assert Entry.objects.filter(kind=DONOTCALL_UPLOAD.slug).count() == 1  # the first's


def test_an_upload_renews_the_expired_entries_of_its_numbers_and_says_so_apart(
        officer_client):
    """Its page counted a renewed number among those put on the list, where its audit
    entry counts it apart."""
    add(officer_client, "601000003", expires_on="2020-01-31")
    response = upload(officer_client, csv_bytes([["601000003"], ["601000004"]],
                                                header=["Telefon"]))
    assert response.context["counts"] == (1, 1, 0)
    result = re.search(r'data-testid="upload-result">(.*?)</div>', response.content.decode(),
                       re.DOTALL).group(1)
    assert " ".join(result.split()) == (
        "1 number put on the list. 1 number put on the list again in place of its expired "
        "entry. On the list already: 0. Repeated in the file: 0. Invalid: 0.")
    entry = Suppression.objects.get(phone_key="48601000003")
    assert (entry.source, entry.expires_on) == ("upload", None)
    assert add(officer_client, "601000003").status_code == 400  # current now: a repeat


def test_an_upload_counts_and_lists_its_lines_with_an_empty_phone_cell(officer_client):
    content = csv_bytes([["", "Jan"], ["601000001", "Ewa"], ["", "Ola"]],
                        header=["Telefon", "Imię"])
    response = upload(officer_client, content)
    read = response.context["read"]
    assert [(line, value, why) for line, value, why in read.invalid] == [
        (2, "", "Enter a phone number."), (4, "", "Enter a phone number.")]
    assert (response.context["counts"].added, read.invalid_count) == (1, 2)
    assert "Numbers read from the column “Telefon”." in response.content.decode()


@pytest.mark.parametrize(("content", "message"), [
    (csv_bytes([["601000001", "602000001"]], header=["Telefon", "Telefon 2"]),
     "More than one column&#x27;s header names a phone (“Telefon”, “Telefon 2”)"),
    (csv_bytes([["1002345", "Jan"]], header=["Nr klienta", "Imię"]),
     "No column&#x27;s header names a phone (the headers are “Nr klienta”, “Imię”)"),
    (b"601000001\r\n601000002\r\n", "The first row must name the columns, but it holds"),
    (b"601000001\r\n", "The first row must name the columns, but it holds"),
], ids=["two phone columns", "none names a phone", "no header", "one number"])
def test_an_upload_whose_phone_column_is_not_sure_is_refused_saying_why(
        officer_client, content, message):
    """The first of two phone columns was read alone, and client ids (or the first column
    of a file without a header naming a phone) were listed as numbers."""
    response = upload(officer_client, content, note="zachowana notatka")
    assert response.status_code == 400
    assert message in response.content.decode()
    assert "zachowana notatka" in response.content.decode()
    assert not Suppression.objects.exists()


@pytest.mark.parametrize("header", [["Telefon", "Telefon 2"], ["Nr klienta", "Imię"]],
                         ids=["two phone columns", "none names a phone"])
def test_the_headers_of_a_refused_upload_are_quoted_in_the_user_s_language(
        officer_client, monkeypatch, header):
    """The quotation marks were written in code, around the translated words: a Polish
    message quoted the headers the English way."""
    polish = trans_real.translation("pl")._catalog._catalogs[0]
    monkeypatch.setitem(polish, "“%(header)s”", "„%(header)s”")
    officer_client.cookies["django_language"] = "pl"
    page = upload(officer_client, csv_bytes([["601000001", "602000001"]], header=header))
    assert f"„{header[0]}”, „{header[1]}”" in page.content.decode()


def test_an_xlsx_upload_says_which_sheet_it_read_and_which_it_did_not(officer_client):
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Lista"
    for row in (["Imię", "Kontakt"], ["Jan", "601000001"], ["Ewa", 601000002]):
        first.append(row)
    book.create_sheet("Marzec").append(["Telefon"])
    book.create_sheet("Słownik").sheet_state = "hidden"
    saved = io.BytesIO()
    book.save(saved)
    response = upload(officer_client, saved.getvalue(), name="lista.xlsx")
    assert response.context["counts"].added == 2
    page = response.content.decode()
    assert "Numbers read from the column “Kontakt” of the sheet “Lista”." in page
    assert "The workbook's other sheets were not read: Marzec." in page


@pytest.mark.parametrize(("content", "message"), [
    (b"", "The submitted file is empty."),
    # Over IMPORT_MAX_FILE_SIZE (20 MiB), within the UPLOAD_ROOM read beyond it.
    (b"x" * (24 * 1024 * 1024), "The file is 24.0\xa0MB; the portal takes files of at most"),
])
def test_an_empty_or_huge_file_is_refused_next_to_the_field(officer_client, content, message):
    response = upload(officer_client, content, note="zachowana notatka")
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors["file"])
    assert "zachowana notatka" in response.content.decode()


class UnreadBody:
    """A request body that fails the test when anything reads it."""

    def read(self, *args):
        pytest.fail("the body was read")

    readline = read


def post_declared(client, length, **extra):
    """A post of the upload form declaring a body of `length` bytes, none of which may be
    read."""
    return client.post(reverse("donotcall:upload"), CONTENT_LENGTH=str(length),
                       CONTENT_TYPE="multipart/form-data; boundary=x",
                       **{"wsgi.input": UnreadBody()}, **extra)


def test_a_file_far_over_the_limit_gets_the_413_page_in_the_user_s_language_unread(
        officer_client):
    """Django stored the whole body on disk before the form refused the file: a client
    could send gigabytes."""
    response = post_declared(officer_client, 200 * 1024 * 1024, HTTP_ACCEPT_LANGUAGE="pl",
                             HTTP_REFERER="http://testserver" + reverse("donotcall:upload"))
    assert response.status_code == 413
    page = response.content.decode()
    assert '<html lang="pl"' in page
    assert "Plik jest za duży" in page and "200,0\xa0MB" in page
    assert f'href="{reverse("donotcall:upload")}"' in page  # back to the form


def test_an_anonymous_post_too_large_to_read_is_refused_before_its_csrf_check_reads_it(
        db, settings):
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "a" * 32
    settings.IMPORT_MAX_FILE_SIZE = 1000
    assert post_declared(client, 1000 + UPLOAD_ROOM + 1).status_code == 413


@pytest.mark.parametrize("content", [
    long_first_cell_xlsx(10),  # 100 MB in a 103 KB file
    streamed_xlsx([b'<row r="1048577"><c><v>601000002</v></c></row>']),  # past Excel's last
], ids=["a cell of 10 MB", "a row past Excel's last"])
def test_a_crafted_workbook_is_refused_next_to_the_field_listing_nothing(
        officer_client, content):
    """Its rows were all read while its officer waited, whatever it unpacked to."""
    response = upload(officer_client, content, name="lista.xlsx", note="zachowana notatka")
    assert response.status_code == 400
    assert "holds more than a spreadsheet program writes" in " ".join(
        response.context["form"].errors["file"])
    assert "zachowana notatka" in response.content.decode()
    assert not Suppression.objects.exists()


def test_the_export_holds_every_entry_safe_for_excel(officer_client):
    add(officer_client, note="=HYPERLINK(1)")
    response = officer_client.get(reverse("donotcall:export"))
    text = b"".join(response.streaming_content).decode()
    assert "'+48601234567" in text
    assert "'=HYPERLINK(1)" in text


def test_the_export_writes_its_values_in_the_language_of_its_headers(officer_client):
    """Polish headers stood over the stored codes ("request", "typed", "yes")."""
    add(officer_client, expires_on="2020-01-01")
    response = officer_client.get(reverse("donotcall:export"), HTTP_ACCEPT_LANGUAGE="pl")
    # Separated by ";", as Polish Excel splits a CSV file's cells (not at ",").
    header, row = [line.removeprefix("\ufeff").split(";") for line in
                   b"".join(response.streaming_content).decode().splitlines()]
    values = dict(zip(header, row, strict=True))
    assert (values["powód"], values["źródło"], values["wygasło"]) == (
        "prośba klienta", "wpisany ręcznie", "tak")


def test_the_export_uploaded_again_lists_its_numbers(officer_client):
    """Its numbers, written "'+48..." so that Excel keeps them text, were refused."""
    add(officer_client)
    exported = b"".join(officer_client.get(reverse("donotcall:export")).streaming_content)
    Suppression.objects.all().delete()
    response = upload(officer_client, exported, name="do-not-call.csv")
    assert (response.context["counts"].added, response.context["read"].invalid_count) == (1, 0)


def test_a_record_loader_may_not_open_the_list(client, db):
    client.force_login(make_user("loader", LOADERS))
    assert client.get(reverse("donotcall:list")).status_code == 403
    assert client.post(reverse("donotcall:add"), {}).status_code == 403


def test_the_list_pages_by_its_size_keeping_the_search(officer_client):
    Suppression.objects.bulk_create(
        Suppression(digest=f"d{n}", phone_key=f"4860100{n:04d}", reason="request",
                    source="typed") for n in range(51))
    first = officer_client.get(reverse("donotcall:list"), {"reason": "request"}).content.decode()
    assert '<a class="page-link" href="?reason=request&amp;page=2">' in first
    second = officer_client.get(reverse("donotcall:list"), {"reason": "request", "page": 2})
    assert '<a class="page-link" href="?reason=request&amp;page=1">' in second.content.decode()


def test_the_list_pages_no_deeper_than_it_counts_and_says_so(officer_client, monkeypatch,
                                                             campaigns):
    """A full COUNT(*) read the whole list at every page, and a deep page's OFFSET walked the
    list up to it (seconds at a million entries)."""
    monkeypatch.setattr(LongTablePaginator, "COUNTED_AT_MOST", 100)
    Suppression.objects.bulk_create(
        Suppression(digest=f"d{n}", phone_key=f"4860100{n:04d}", reason="request",
                    source="typed", campaign=campaigns["00001"] if n % 2 else None)
        for n in range(260))
    listing = reverse("donotcall:list")
    for query in ({}, {"scope": "00001"}, {"scope": "all"}):
        with CaptureQueriesContext(connection) as queries:
            page = officer_client.get(listing, {**query, "page": 10000})
        assert page.context["page"].number == 2
        of_the_list = [sql["sql"] for sql in queries if "donotcall_suppression" in sql["sql"]]
        assert all("COUNT(" not in sql or " LIMIT " in sql for sql in of_the_list)
        assert 'data-testid="pages-cut-short"' in page.content.decode()
    short = officer_client.get(listing, {"reason": "complaint"}).content.decode()
    assert 'data-testid="pages-cut-short"' not in short


def test_a_campaign_s_entries_are_read_by_its_id_which_their_index_begins_with(
        officer_client, campaigns):
    """Joined to the campaigns by its Thulium id, the page walked the whole list by time for
    a campaign's few entries (6.9 s for 10 of a million)."""
    add(officer_client, campaign="00001")
    with CaptureQueriesContext(connection) as queries:
        page = officer_client.get(reverse("donotcall:list"), {"scope": "00001"})
    assert [entry.phone_key for entry in page.context["page"]] == ["48601234567"]
    (read,) = [sql["sql"] for sql in queries if "ORDER BY" in sql["sql"]
               and "donotcall_suppression" in sql["sql"]]
    assert 'WHERE "donotcall_suppression"."campaign_id" = ' in read
    assert '"thulium_id" =' not in read
