"""IMPORT_KEEP_DAYS after an import ended, its rows' numbers and fields are cleared."""

import csv
import io
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit import erasure
from audit.erasure import forget_number, number_held
from audit.models import Entry
from audit.verify import verify_chain
from imports import previewing, retention
from imports.models import ImportJob, ImportRow, ImportUpload, RowState
from imports.previewing import import_preview
from imports.pushing import import_push
from imports.retention import imports_clear_expired
from imports.services import import_cancel, import_confirm
from portal.phones import phone_key
from tests.audit_fixtures import auditor  # noqa: F401
from tests.db_threads import (
    closing,
    connected_pid,
    tables_locked,
    until_waiting_for_a_lock_or_done,
)
from tests.import_files import csv_bytes, people, previewed, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def keep_days(settings):
    settings.IMPORT_KEEP_DAYS = 90
    settings.IMPORT_BATCH_SIZE = 10


@pytest.fixture
def sales(campaigns):
    return campaigns["00001"]


def aged(job: ImportJob, days: float, *, field="finished_at") -> None:
    ImportJob.objects.filter(pk=job.pk).update(**{field: timezone.now() - timedelta(days=days)})


def personal_values(job: ImportJob) -> list:
    """Every value of the job's rows that could be a person's."""
    return [value for row in ImportRow.objects.filter(job=job).values_list(
        "phone_number", "phone_key", "payload", "values", "problems")
        for value in row if value not in ("", None, {}, [])]


def cleared_entry(job: ImportJob) -> Entry:
    return Entry.objects.get(kind="import-cleared", details__job=job.pk)


@pytest.mark.django_db(transaction=True)
def test_an_import_ended_longer_ago_than_the_days_kept_keeps_no_number_or_field(
    logged_in, sales, thulium, auditor  # noqa: F811
):
    rows = [*people(3), ["12", "Jan", "Zły-Numer", "Łódź"]]
    job = previewed(logged_in, sales, csv_bytes(rows))
    assert import_confirm(job=job)
    import_push(job.pk)
    forget_number(number=rows[2][0], reference="RODO/7")
    erased_note = ImportRow.objects.get(job=job, number=4).problems
    aged(job, 91)

    assert imports_clear_expired() == [job.pk]

    # Each row keeps its place and its fate; the erased one its erasure's note.
    rows_now = ImportRow.objects.filter(job=job).order_by("number")
    assert [row.state for row in rows_now] == [RowState.ADDED] * 3 + [RowState.INVALID]
    assert personal_values(job) == ["[erased]", erased_note]
    job.refresh_from_db()
    assert job.rows_cleared_at is not None and job.receipt.results["added"] == 3
    entry = cleared_entry(job)
    assert (entry.actor_id, entry.actor_username, entry.campaign_id) == (
        None, "run_worker", sales.pk)
    assert entry.details == {"job": job.pk, "file_name": "leady.csv", "keep_days": 90,
                             "never_sent": False}
    assert entry.results == {"rows": 3, "file_dropped": False}
    assert not verify_chain().problem
    assert imports_clear_expired() == []  # once

    page = logged_in.get(job.get_absolute_url()).content.decode()
    assert 'data-testid="rows-cleared"' in page
    report = b"".join(logged_in.get(reverse("imports:report", args=[job.pk]))
                      .streaming_content).decode()
    lines = list(csv.reader(io.StringIO(report.lstrip("\ufeff")), delimiter=";"))
    # Thulium's record ids stay: they come from the audit trail.
    assert [line[:3] for line in lines[1:]] == [
        ["2", "", "added"], ["3", "", "added"], ["4", "[erased]", "added"], ["5", "", "invalid"]]
    assert all(line[3].isdigit() for line in lines[1:3])
    assert "601000000" not in report and "601000001" not in report
    assert "<code>12</code>" not in page  # the invalid row's number, listed before
    logged_in.force_login(auditor)
    entry_page = logged_in.get(entry.get_absolute_url()).content.decode()
    assert '<dd class="col-sm-9" data-testid="rows-cleared">3</dd>' in entry_page
    timeline = logged_in.get(reverse("audit:timeline"), {"kind": "import-cleared"})
    assert ("personal data of the import of leady.csv cleared: 3 rows"
            in timeline.content.decode())


def report_of(client, job: ImportJob) -> list[list[str]]:
    report = b"".join(client.get(reverse("imports:report", args=[job.pk]))
                      .streaming_content).decode()
    return list(csv.reader(io.StringIO(report.lstrip("\ufeff")), delimiter=";"))[1:]


@pytest.mark.django_db(transaction=True)
def test_a_cleared_import_s_report_keeps_no_word_thulium_said_about_a_row(logged_in, sales,
                                                                          thulium):
    """Thulium's words about a row may repeat its data: they stayed in the report (read from
    the audit trail) after the row's number and fields were cleared."""
    rows = people(2)
    thulium.state.fail_in_batch([rows[1][0]])
    job = previewed(logged_in, sales, csv_bytes(rows))
    assert import_confirm(job=job)
    import_push(job.pk)
    refused = report_of(logged_in, job)[1]
    assert refused[2] == "refused" and refused[4]
    aged(job, 91)

    assert imports_clear_expired() == [job.pk]

    added, refused = report_of(logged_in, job)
    assert added[3].isdigit() and refused[:5] == ["3", "", "refused", "", ""]


def test_an_upload_never_sent_is_cancelled_and_its_file_dropped(logged_in, sales):
    job = previewed(logged_in, sales, csv_bytes(people(2)))
    aged(job, 91, field="created_at")

    assert imports_clear_expired() == [job.pk]

    job.refresh_from_db()
    assert job.state == ImportJob.State.CANCELLED and job.finished_at is not None
    assert job.stop_reason.startswith("Not sent within 90 days of its upload")
    assert not ImportUpload.objects.filter(job=job).exists()
    assert set(job.rows.values_list("state", flat=True)) == {RowState.NOT_SENT}
    assert personal_values(job) == []
    assert cleared_entry(job).details["never_sent"] is True
    assert cleared_entry(job).results == {"rows": 2, "file_dropped": True}
    # Its mapping is not offered again; its page says what happened.
    assert logged_in.get(reverse("imports:mapping", args=[job.pk])).url == job.get_absolute_url()
    page = logged_in.get(job.get_absolute_url()).content.decode()
    assert "Not sent within 90 days" in page and 'data-testid="rows-cleared"' in page


def test_imports_within_their_days_or_sending_keep_their_rows(logged_in, sales, settings):
    recent = previewed(logged_in, sales, csv_bytes(people(2)))
    assert import_confirm(job=recent)
    import_cancel(job=recent)
    aged(recent, 89)
    waiting = previewed(logged_in, sales, csv_bytes(people(2, first=602000000)))
    assert import_confirm(job=waiting)
    aged(waiting, 200, field="created_at")  # queued for long: still to send
    new_upload = previewed(logged_in, sales, csv_bytes(people(2, first=603000000)))
    aged(new_upload, 89, field="created_at")

    assert imports_clear_expired() == []
    # One confirmed after the worker listed it is checked again once its rows are locked.
    assert not retention._import_clear(waiting.pk, timezone.now())
    assert all(len(personal_values(job)) == 6 for job in (recent, waiting, new_upload))

    aged(recent, 1000)
    settings.IMPORT_KEEP_DAYS = 0  # kept for ever
    assert imports_clear_expired() == []
    assert len(personal_values(recent)) == 6


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("held_in", ["a row", "the file alone"])
def test_an_erasure_and_the_clearing_of_an_import_holding_the_number_never_deadlock(
    logged_in, sales, monkeypatch, held_in
):
    """The clearing locked the import and its file, then the chain's head; an erasure
    locks the number's rows (and their imports), then the head, then the file and the
    import it ends: each could wait for the other. A number written in a cell no column
    maps to the phone is in the file alone."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: SQLite runs one writer at a time")
    rows = people(3)
    number = rows[1][0]
    if held_in == "the file alone":
        number = rows[1][3] = "601999999"  # in the town's column: no row is keyed by it
    job = previewed(logged_in, sales, csv_bytes(rows))
    assert job.rows.filter(phone_key=phone_key(number)).exists() == (held_in == "a row")
    aged(job, 91, field="created_at")
    # The erasure pauses once it holds the number's rows and the chain's head.
    paused, go_on = threading.Event(), threading.Event()
    hold = erasure.chain_hold
    monkeypatch.setattr(erasure, "chain_hold", lambda: (hold(), paused.set(), go_on.wait(60)))
    failures = []
    erasing = threading.Thread(target=closing(
        lambda: forget_number(number=number, reference="RODO/9"), failures))
    clearing_pid, cleared = [], []
    clearing = threading.Thread(target=closing(
        lambda: (clearing_pid.append(connected_pid()), cleared.extend(imports_clear_expired())),
        failures))
    try:
        erasing.start()
        assert paused.wait(30)
        clearing.start()
        until_waiting_for_a_lock_or_done(clearing, clearing_pid)
        # It waits (for the number's row, or the head) holding nothing of what the erasure
        # takes next: the import's file and the import, which it ends.
        assert clearing.is_alive()
        assert not {"imports_importjob", "imports_importupload"} & tables_locked(
            clearing_pid[0])
    finally:
        go_on.set()
        erasing.join(30)
        clearing.join(30)

    assert failures == []  # a deadlock failed one of them, and the test did not see it
    job.refresh_from_db()
    # The erasure ended the import and dropped its file; the clearing then found an import
    # just ended, whose rows are kept as long as any's.
    assert job.state == ImportJob.State.CANCELLED and "erased" in job.stop_reason
    assert not ImportUpload.objects.filter(job=job).exists()
    assert cleared == [] and job.rows_cleared_at is None
    assert Entry.objects.filter(kind="erasure").count() == 1
    assert not verify_chain().problem


def _paused(monkeypatch, module, name: str):
    """Pause the first call of `module.name` (after it ran) until the returned event is
    set; the other event says it was reached."""
    reached, go_on = threading.Event(), threading.Event()
    real = getattr(module, name)

    def paused(*args, **kwargs):
        result = real(*args, **kwargs)
        if not reached.is_set():
            reached.set()
            go_on.wait(60)
        return result

    monkeypatch.setattr(module, name, paused)
    return reached, go_on


@pytest.mark.django_db(transaction=True)
def test_a_preview_while_an_old_import_is_cleared_neither_deadlocks_nor_keeps_numbers(
        logged_in, sales, monkeypatch):
    """The preview locked the import, then its rows; the clearing the rows, then the
    import: PostgreSQL ended one of them as a deadlock (the mapping page answered 500)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: SQLite runs one writer at a time")
    job = previewed(logged_in, sales, csv_bytes(people(3)))
    aged(job, 91, field="created_at")
    reached, go_on = _paused(monkeypatch, retention, "chain_hold")  # it holds the rows
    failures, preview_pid = [], []
    clearing = threading.Thread(target=closing(imports_clear_expired, failures))
    preview = threading.Thread(target=closing(lambda: (
        preview_pid.append(connected_pid()),
        import_preview(job=ImportJob.objects.get(pk=job.pk), mapping=job.mapping)), failures))
    try:
        clearing.start()
        assert reached.wait(30)
        preview.start()
        until_waiting_for_a_lock_or_done(preview, preview_pid)
        assert preview.is_alive() and "imports_importjob" not in tables_locked(preview_pid[0])
    finally:
        go_on.set()
        clearing.join(30)
        preview.join(30)
    assert failures == []
    job.refresh_from_db()
    assert job.state == ImportJob.State.CANCELLED and job.rows_cleared_at is not None
    assert personal_values(job) == []


@pytest.mark.django_db(transaction=True)
def test_rows_a_preview_writes_while_an_old_upload_is_cleared_are_cleared_too(
        logged_in, sales, monkeypatch):
    """The clearing cleared the rows there were, then waited for the import, which the
    preview held while writing its rows: they kept their numbers for good, the import
    marked cleared."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: SQLite runs one writer at a time")
    upload(logged_in, sales, csv_bytes(people(3)))
    job = ImportJob.objects.get()
    aged(job, 91, field="created_at")
    reached, go_on = _paused(monkeypatch, previewing, "upload_content")  # the import held
    failures, clearing_pid = [], []
    preview = threading.Thread(target=closing(lambda: import_preview(
        job=ImportJob.objects.get(pk=job.pk), mapping=job.mapping), failures))
    clearing = threading.Thread(target=closing(lambda: (
        clearing_pid.append(connected_pid()), imports_clear_expired()), failures))
    try:
        preview.start()
        assert reached.wait(30)
        clearing.start()
        until_waiting_for_a_lock_or_done(clearing, clearing_pid)
    finally:
        go_on.set()
        preview.join(30)
        clearing.join(30)
    assert failures == []
    job.refresh_from_db()
    assert job.rows_cleared_at is not None and job.rows.count() == 3
    assert personal_values(job) == []


def ended_import(sales, rows: int, *, first: int = 600000000) -> ImportJob:
    """An import ended 120 days ago whose rows hold their numbers and fields."""
    ended = timezone.now() - timedelta(days=120)
    job = ImportJob.objects.create(
        campaign=sales, actor=None, actor_username="loader", file_name="klienci.csv",
        file_size=1, file_sha256="0" * 64, file_kind="csv", state=ImportJob.State.DONE,
        rows_total=rows, rows_valid=rows, started_at=ended, finished_at=ended)
    ImportRow.objects.bulk_create(
        ImportRow(job=job, number=n + 1, phone_number=f"+48 {first + n}",
                  phone_key=f"48{first + n}", payload={"phone_number": f"+48 {first + n}"},
                  values={"Imię": "Anna"}, state=RowState.ADDED, finished_at=ended)
        for n in range(rows))
    return job


def test_clearing_an_import_writes_under_the_chain_s_head_only_rows_not_cleared_before(
        sales, monkeypatch):
    """The second clearing, once the head is held, rewrote every row cleared a moment
    before: 100,000 rows held every audited action for seconds."""
    job = ended_import(sales, 5)
    written = []
    hold, clear = retention.chain_hold, retention._rows_clear

    def held():
        hold()
        # A row a preview wrote meanwhile: the one row left to clear.
        ImportRow.objects.create(job=job, number=99, phone_number="+48 601999999",
                                 phone_key="48601999999", values={"Imię": "Jan"},
                                 state=RowState.INVALID)
        written.append([])

    def clearing(pk):
        rows = clear(pk)
        (written[-1] if written else []).append(rows)
        return rows

    monkeypatch.setattr(retention, "chain_hold", held)
    monkeypatch.setattr(retention, "_rows_clear", clearing)

    assert imports_clear_expired() == [job.pk]

    assert written == [[1]]
    assert personal_values(job) == []
    assert cleared_entry(job).results == {"rows": 6, "file_dropped": False}


def test_a_turn_clears_a_bounded_number_of_rows_and_the_next_goes_on(sales, monkeypatch):
    """Every expired import was cleared in one turn, however many rows they held."""
    monkeypatch.setattr(retention, "ROWS_PER_TURN", 2)
    jobs = [ended_import(sales, 2, first=600000000 + 10 * n).pk for n in range(3)]

    assert [imports_clear_expired() for _turn in range(4)] == [[pk] for pk in jobs] + [[]]


def test_finding_a_number_reads_no_row_of_a_cleared_import(sales):
    """Finding or erasing a number read every import row ever made with a LIKE, with the
    chain's head held, though a cleared import's rows hold no number."""
    kept = ended_import(sales, 2)
    cleared = ended_import(sales, 2)
    # Left holding the number, keyed and in a cell, its rows show whether they are read.
    ImportRow.objects.create(job=cleared, number=9, values={"Komórka": "600 000 000"},
                             state=RowState.INVALID)
    ImportJob.objects.filter(pk=cleared.pk).update(rows_cleared_at=timezone.now())

    with CaptureQueriesContext(connection) as queries:
        held = number_held("+48 600 000 000")

    assert held["import_rows"] == 1
    rows_read = [query["sql"] for query in queries
                 if '"imports_importrow"' in query["sql"] and "LIKE" in query["sql"]]
    assert rows_read and all("rows_cleared_at" in sql for sql in rows_read)
    assert kept.rows.filter(phone_key="48600000000").exists()
