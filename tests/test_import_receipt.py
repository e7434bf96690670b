"""An import's receipt is an entry of the audit trail: chained, unchangeable, findable."""

import csv
import io
import json
import re

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import override

from audit.models import Entry, Outcome
from audit.verify import verify_chain
from imports.models import ImportJob, RowState
from imports.progress import row_counts
from imports.pushing import import_push
from imports.receipts import COUNTS, receipt_counts, receipt_write
from imports.services import import_cancel, import_confirm
from imports.templatetags.imports_entries import import_options
from portal.shown_times import shown_time
from portal.thulium import get_client
from tests.audit_fixtures import auditor, tamper  # noqa: F401
from tests.conftest import skip_unless_postgresql
from tests.import_files import csv_bytes, people, previewed

pytestmark = pytest.mark.django_db

TIMELINE = reverse("audit:timeline")


@pytest.fixture
def sales(campaigns):
    return campaigns["00001"]


@pytest.fixture
def watched(auditor):  # noqa: F811
    """An auditor's browser, beside the loader's (`logged_in`)."""
    client = Client()
    client.force_login(auditor)
    return client


def cancelled(client, campaign, rows, name="leady.csv") -> Entry:
    """An import confirmed, then cancelled before any worker took it: nothing is sent.

    Returns its receipt.
    """
    job = previewed(client, campaign, csv_bytes(rows), name=name)
    assert import_confirm(job=job)
    import_cancel(job=ImportJob.objects.get(pk=job.pk))
    return ImportJob.objects.get(pk=job.pk).receipt


def job_of(receipt: Entry) -> ImportJob:
    job = ImportJob.objects.get(receipt=receipt)
    assert receipt.details["job"] == job.pk
    return job


def summaries(response) -> list[str]:
    return [row.summary for row in response.context["page"].rows]


@pytest.mark.django_db(transaction=True)
def test_a_finished_import_is_in_the_timeline_with_what_became_of_its_rows(
    logged_in, sales, thulium, watched
):
    rows = [*people(3), ["12", "zły", "numer", ""]]
    job = previewed(logged_in, sales, csv_bytes(rows))
    assert import_confirm(job=job)
    get_client().add_record("00001", {"phone_number": rows[0][0]})  # one Thulium holds
    import_push(job.pk)
    receipt = ImportJob.objects.get(pk=job.pk).receipt
    assert receipt.kind == "import" and Entry.objects.filter(kind="import").count() == 1

    timeline = watched.get(TIMELINE, {"kind": "import"})
    assert summaries(timeline) == ["import of leady.csv: 2 added, 1 refused, 1 invalid"]
    page = watched.get(receipt.get_absolute_url()).content.decode()
    assert f'<a href="{job.get_absolute_url()}" data-testid="import-link">leady.csv</a>' in page
    counts = re.search(r'data-testid="import-counts">(.*?)</table>', page, re.S).group(1)
    assert re.findall(r"<th scope=\"row\">(.*?)</th><td>(\d+)</td>", counts)[:4] == [
        ("Rows in the file", "4"), ("Added", "2"), ("Added earlier", "0"), ("Refused", "1")]
    # Each row's own entry points back to the import that sent it.
    refused = Entry.objects.get(kind="record-addition", outcome=Outcome.REFUSED)
    entry = watched.get(refused.get_absolute_url()).content.decode()
    assert f'Sent by the import of <a href="{job.get_absolute_url()}">leady.csv</a>' in entry
    assert not verify_chain().problem


def test_a_final_imports_page_and_progress_take_its_counts_from_the_receipt(logged_in, sales):
    """Its rows change no more: counting them again at each view took a second for an
    import of 1.9 million rows."""
    job = job_of(cancelled(logged_in, sales, [*people(3), ["12", "zły", "numer", ""]]))
    with CaptureQueriesContext(connection) as queries:
        page = logged_in.get(job.get_absolute_url())
        progress = logged_in.get(reverse("imports:progress", args=[job.pk])).json()
    assert not [query for query in queries if "GROUP BY" in query["sql"]]
    # The same as the rows counted afresh (for a job not final).
    assert page.context["counts"] == row_counts(ImportJob(pk=job.pk, campaign=sales))
    assert (progress["not_sent"], progress["total"], progress["final"]) == (3, 3, True)


def test_a_receipt_from_before_rows_in_another_import_were_counted_still_gives_the_counts():
    """Its import could have no such row: counting its rows again took a second a view."""
    older = {name: 1 for name in COUNTS if name != "rows_elsewhere"}
    counts = receipt_counts(ImportJob(receipt=Entry(pk=1, results=older)))
    assert (counts[RowState.ADDED], counts[RowState.ELSEWHERE]) == (1, 0)


def test_a_cancelled_import_is_an_entry_that_failed_saying_why(logged_in, sales, watched):
    receipt = cancelled(logged_in, sales, [*people(3), ["12", "zły", "numer", ""]])

    assert (receipt.outcome, receipt.results["result"]) == (Outcome.FAILED, "cancelled")
    assert (receipt.results["rows_total"], receipt.results["not_sent"],
            receipt.results["rows_invalid"]) == (4, 3, 1)
    assert receipt.actor_username == "manager" and receipt.details["confirmed_at"] is not None
    assert summaries(watched.get(TIMELINE)) == [
        "import of leady.csv (cancelled): 3 not sent, 1 invalid"]
    assert not hasattr(job_of(receipt), "upload")


def test_the_receipt_keeps_what_defined_the_import(logged_in, sales):
    content = csv_bytes(people(2))
    receipt = cancelled(logged_in, sales, people(2))

    assert receipt.sent["file_name"] == job_of(receipt).file_name == "leady.csv"
    assert receipt.sent["file_size"] == len(content)
    assert receipt.sent["file_sha256"] == job_of(receipt).file_sha256
    assert len(receipt.sent["file_sha256"]) == 64
    assert receipt.sent["mapping"]["Telefon"] == "phone_number"
    assert receipt.sent["options"]["delimiter"] == ";"


def test_its_page_shows_what_it_was_given_and_no_answer_from_thulium(logged_in, sales,
                                                                      watched):
    receipt = cancelled(logged_in, sales, people(2))

    page = watched.get(receipt.get_absolute_url()).content.decode()

    assert "What it was given, exactly" in page and receipt.sent["file_sha256"] in page
    # Each mapped column's field in the record form's words, beside its path.
    mapped = dict(re.findall(r'data-testid="mapped-column"><code>(.*?)</code> → (.*?)</div>',
                             page))
    assert mapped["Telefon"] == "Phone number <small><code>phone_number</code></small>"
    assert mapped["Imię"] == "<code>record_fields.imie</code>"  # the campaign's own field
    assert 'data-testid="answer"' not in page and 'data-testid="diff"' not in page
    assert "Records imported" in page
    # When it was confirmed, as the page's other times: in the portal's zone, not as kept.
    assert f"confirmed {shown_time(job_of(receipt).confirmed_at)}" in page
    assert receipt.details["confirmed_at"] not in page


@pytest.mark.parametrize("language", ["en", "pl"])
def test_the_import_page_and_list_write_their_times_as_the_language_does(logged_in, sales,
                                                                          language):
    receipt = cancelled(logged_in, sales, people(2))
    job = job_of(receipt)
    with override(language):
        confirmed, finished = shown_time(job.confirmed_at), shown_time(receipt.completed_at)
        listed = date_format(timezone.localtime(job.created_at), "SHORT_DATETIME_FORMAT")

    page = logged_in.get(job.get_absolute_url(), HTTP_ACCEPT_LANGUAGE=language)
    assert confirmed in page.content.decode() and finished in page.content.decode()
    imports = logged_in.get(reverse("imports:upload", args=[sales.thulium_id]),
                            HTTP_ACCEPT_LANGUAGE=language)
    assert f">{listed}</a>" in imports.content.decode()


@pytest.mark.parametrize("language, words", [
    ("en", {"Telefon": "Phone number <small><code>phone_number</code></small>",
            "File type": "CSV <small><code>csv</code></small>",
            "Separator": "semicolon ; <small><code>;</code></small>",
            "Calls per second at most": "no limit <small><code>0.0</code></small>",
            "Language": "English <small><code>en</code></small>"}),
    ("pl", {"Telefon": "Numer telefonu <small><code>phone_number</code></small>",
            "Typ pliku": "CSV <small><code>csv</code></small>",
            "Separator": "średnik ; <small><code>;</code></small>",
            "Maks. liczba wywołań na sekundę": "bez limitu <small><code>0.0</code></small>",
            "Język": "angielski <small><code>en</code></small>"}),
])
def test_the_import_page_and_the_entry_name_the_mapping_and_options_in_the_users_words(
    logged_in, sales, watched, settings, language, words
):
    settings.IMPORT_RATE_LIMIT = 0.0
    receipt = cancelled(logged_in, sales, people(2))
    for client, url in ((logged_in, job_of(receipt).get_absolute_url()),
                        (watched, receipt.get_absolute_url())):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        shown = dict(re.findall(r'data-testid="mapped-column"><code>(.*?)</code> → (.*?)</div>',
                                page))
        shown |= dict(re.findall(r'data-testid="import-option">(.*?): (.*?)</div>', page))
        assert {name: shown.get(name) for name in words} == words, url
        assert not {"Sheet", "Arkusz"} & set(shown), url  # a CSV has none: no empty line


def test_the_search_box_finds_an_import_by_its_sha256_or_file_name(logged_in, sales, watched):
    wanted = cancelled(logged_in, sales, people(2), name="leady-maj.csv")
    cancelled(logged_in, sales, people(3, first=602000000), name="inne.csv")

    for search in (wanted.sent["file_sha256"], wanted.sent["file_sha256"].upper(),
                   "leady-maj.csv"):
        response = watched.get(TIMELINE, {"q": search})
        assert [row.entry for row in response.context["page"].rows] == [wanted], search
    assert summaries(watched.get(TIMELINE, {"q": "leady"})) == []  # exact matches only


def test_the_exports_carry_the_counts(logged_in, sales, watched):
    receipt = cancelled(logged_in, sales, [*people(2), ["=1+1", "a", "b", "c"]],
                        name="=leady.csv")

    text = b"".join(watched.get(reverse("audit:export_csv"), {"kind": "import"})
                    .streaming_content).decode()
    row = next(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert (row["kind"], row["job_id"], row["result"], row["not_sent"], row["rows_invalid"]) == (
        "import", str(job_of(receipt).pk), "cancelled", "2", "1")
    assert row["id"] == str(receipt.pk)
    assert row["file_name"] == "'=leady.csv" and row["file_sha256"] == receipt.sent["file_sha256"]
    lines = b"".join(watched.get(reverse("audit:export_jsonl"), {"kind": "import"})
                     .streaming_content).decode().splitlines()
    assert json.loads(lines[0])["sent"]["mapping"]["Telefon"] == "phone_number"
    assert json.loads(lines[0])["added"] == 0
    assert json.loads(lines[0])["results"]["not_sent"] == 2


def test_an_import_has_one_receipt(logged_in, sales):
    # A copy of the job read before the import ended does not know of its receipt yet.
    stale = previewed(logged_in, sales, csv_bytes(people(1)))
    assert import_confirm(job=stale)
    stale.refresh_from_db()
    import_cancel(job=ImportJob.objects.get(pk=stale.pk))
    receipt = ImportJob.objects.get(pk=stale.pk).receipt
    stale.state = ImportJob.State.CANCELLED  # as a worker ending it would set it

    for job in (job_of(receipt), stale):
        with pytest.raises(ValueError, match="has a receipt already"):
            receipt_write(job, row_counts(job))
    assert list(Entry.objects.filter(kind="import")) == [receipt]
    assert ImportJob.objects.get(pk=stale.pk).receipt == receipt
    assert not verify_chain().problem


def test_verify_audit_names_a_receipt_whose_counts_were_edited(logged_in, sales):
    receipt = cancelled(logged_in, sales, people(2))
    assert not verify_chain().problem

    edited = {**receipt.results, "not_sent": 0, "added": 2}
    tamper("UPDATE audit_entry SET results = %s WHERE id = %s", [json.dumps(edited), receipt.pk])

    assert f"entry #{receipt.pk} (completed" in verify_chain().problem


def test_on_postgresql_raw_sql_cannot_rewrite_or_delete_a_receipt(logged_in, sales):
    skip_unless_postgresql(connection)
    receipt = cancelled(logged_in, sales, people(2))

    for sql in ("UPDATE audit_entry SET results = '{\"added\": 2}' WHERE id = %s",
                "UPDATE audit_entry SET sent = '{\"file_sha256\": \"x\"}' WHERE id = %s",
                "DELETE FROM audit_entry WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute(sql, [receipt.pk])
    assert Entry.objects.get(kind="import").results["not_sent"] == 2


def test_a_workbook_s_sheet_is_named_in_the_reader_s_words():
    """Its option read "sheet:" in both languages."""
    with override("pl"):
        assert [option["label"] for option in import_options({"sheet": "Leady"})] == ["Arkusz"]
