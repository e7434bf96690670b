"""A file too large to check while its uploader waits is checked by a worker: the same
verdicts as a small file's, a file it cannot read sent back to its mapping, a check whose
worker died begun again. (A real worker process runs one in test_import_workers.)"""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from audit.erasure import forget_number
from imports import previewing
from imports.models import ImportJob, ImportRow
from imports.previewing import import_check
from imports.services import import_check_start, import_check_stop
from tests.import_files import (
    csv_bytes,
    mapping_post,
    people,
    previewed,
    streamed_xlsx,
    upload,
)

pytestmark = pytest.mark.django_db
CHECK_TASK = "imports.tasks.check_import"
# Valid rows, a number given twice and a row the record form refuses.
ROWS = [*people(3), ["601000001", "Jan", "Nowak", "Kraków"], ["12", "Zła", "Liczba", "Gdańsk"]]


@pytest.fixture
def sales(campaigns):
    return campaigns["00001"]


@pytest.fixture
def handed_to_a_worker(logged_in, settings, django_capture_on_commit_callbacks):
    def hand(campaign, content, *, encoding=None) -> ImportJob:
        """Upload and map a file the portal deems large: its check is left to a worker
        (enqueued once the mapping is committed). `encoding` as if the user chose it."""
        settings.IMPORT_CHECK_INLINE_BYTES = len(content) - 1
        assert upload(logged_in, campaign, content).status_code == 302
        job = ImportJob.objects.latest("pk")
        if encoding:
            ImportJob.objects.filter(pk=job.pk).update(encoding=encoding)
        with django_capture_on_commit_callbacks(execute=True):
            response = logged_in.post(reverse("imports:mapping", args=[job.pk]),
                                      mapping_post(job))
        assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
        job.refresh_from_db()
        return job
    return hand


def checks_enqueued(job) -> int:
    return DBTaskResult.objects.filter(task_path=CHECK_TASK, args_kwargs__args=[job.pk]).count()


def verdicts(job) -> list[tuple]:
    return list(job.rows.order_by("number").values_list("number", "state", "phone_key", "problems"))


def test_a_large_file_is_checked_by_a_worker_with_the_verdicts_of_a_small_one(
    logged_in, sales, handed_to_a_worker, settings
):
    settings.IMPORT_HEARTBEAT_SECONDS = 0  # the wait for a worker is told at once
    content = csv_bytes(ROWS)
    at_once = previewed(logged_in, sales, content)
    assert at_once.state == ImportJob.State.PREVIEWED

    job = handed_to_a_worker(sales, content)
    assert job.state == ImportJob.State.CHECKING and checks_enqueued(job) == 1
    assert job.rows.count() == 0
    page = logged_in.get(job.get_absolute_url())
    assert 'data-testid="checking"' in page.content.decode()
    assert logged_in.get(reverse("imports:progress", args=[job.pk])).json() == {
        "state": "checking", "checked": 0, "expected": 0, "percent": None,
        "waiting": True}  # no worker has taken it
    assert 'data-testid="waiting-for-a-worker" >' in page.content.decode()  # not hidden
    DBTaskResult.objects.filter(pk=job.task_id).update(status="RUNNING")
    assert not logged_in.get(reverse("imports:progress", args=[job.pk])).json()["waiting"]
    # While it is checked, its mapping cannot change under the worker.
    assert logged_in.get(reverse("imports:mapping", args=[job.pk]))["Location"] == \
        job.get_absolute_url()

    import_check(job.pk)
    job.refresh_from_db()
    assert job.state == ImportJob.State.PREVIEWED
    assert (job.rows_total, job.rows_valid) == (at_once.rows_total, at_once.rows_valid) == (5, 3)
    assert verdicts(job) == verdicts(at_once)
    assert 'data-testid="confirm"' in logged_in.get(job.get_absolute_url()).content.decode()
    import_check(job.pk)  # a second run of the task finds nothing to check
    assert verdicts(job) == verdicts(at_once)


def test_a_workbook_of_few_bytes_and_many_rows_is_checked_by_a_worker(
        logged_in, sales, settings, django_capture_on_commit_callbacks):
    """Judged by its bytes, 21 KB holding 200,000 identical rows was checked while its
    uploader waited (15 s); 990 KB, 10 million rows, would have met the web's timeout."""
    settings.IMPORT_CHECK_INLINE_BYTES = 10_000  # workbooks of 60 KB unpacked
    content = streamed_xlsx([b"<row><c><v>601000002</v></c></row>" * 2000])  # 70 KB so
    assert len(content) < 3_000
    job = previewed(logged_in, sales, streamed_xlsx([]), name="leady.xlsx")
    assert job.state == ImportJob.State.PREVIEWED  # checked at once: small unpacked too
    assert upload(logged_in, sales, content, "leady.xlsx").status_code == 302
    job = ImportJob.objects.latest("pk")
    with django_capture_on_commit_callbacks(execute=True):
        logged_in.post(reverse("imports:mapping", args=[job.pk]), mapping_post(job))
    job.refresh_from_db()
    assert job.state == ImportJob.State.CHECKING and checks_enqueued(job) == 1
    assert job.rows.count() == 0


def test_a_check_says_how_far_it_is(logged_in, sales, handed_to_a_worker, monkeypatch):
    """Rows checked of about how many the file's lines make: a 20 MB file takes minutes."""
    monkeypatch.setattr(previewing, "PREVIEW_BATCH", 100)
    job = handed_to_a_worker(sales, csv_bytes(people(300)))
    seen, pages = [], []
    write = previewing.rows_insert

    def watched(job, rows):
        progress = logged_in.get(reverse("imports:progress", args=[job.pk])).json()
        seen.append((progress["checked"], progress["expected"], progress["percent"]))
        pages.append(logged_in.get(job.get_absolute_url()).content.decode())
        write(job, rows)

    monkeypatch.setattr(previewing, "rows_insert", watched)
    import_check(job.pk)
    # Each batch counted as it is written; not 100 % before the preview opens.
    assert seen == [(100, 300, 33), (200, 300, 66), (300, 300, 99)]
    assert 'data-field="expected">300<' in pages[0]
    assert 'data-testid="check-bar" >' in pages[0]  # not hidden
    assert 'aria-valuenow="33"' in pages[0]
    job.refresh_from_db()
    assert (job.state, job.rows_total, job.rows_valid) == (ImportJob.State.PREVIEWED, 300, 300)


@pytest.mark.parametrize("batch_first_row", [2, 202], ids=["first batch", "last batch"])
def test_a_check_stopped_by_its_user_goes_back_to_the_mapping_keeping_no_row(
    logged_in, sales, handed_to_a_worker, monkeypatch, django_capture_on_commit_callbacks,
    batch_first_row
):
    """A wrong column seen while the rows are checked: no need to wait minutes for them."""
    monkeypatch.setattr(previewing, "PREVIEW_BATCH", 100)
    job = handed_to_a_worker(sales, csv_bytes(people(300)))
    page = logged_in.get(job.get_absolute_url()).content.decode()
    assert 'data-testid="stop-check"' in page
    write = previewing.rows_insert
    stopped = []

    def stopped_after_a_batch(job, rows):
        write(job, rows)
        if rows[0].number == batch_first_row:
            stopped.append(logged_in.post(reverse("imports:stop_check", args=[job.pk])))

    monkeypatch.setattr(previewing, "rows_insert", stopped_after_a_batch)
    import_check(job.pk)
    job.refresh_from_db()
    assert (job.state, job.rows_total) == (ImportJob.State.UPLOADED, 0)
    assert not job.rows.exists()  # the rows written dropped, no later one written
    page = logged_in.get(stopped[0]["Location"], follow=True).content.decode()
    assert "The check was stopped: change the mapping" in page
    monkeypatch.setattr(previewing, "rows_insert", write)
    with django_capture_on_commit_callbacks(execute=True):
        logged_in.post(reverse("imports:mapping", args=[job.pk]), mapping_post(job))
    import_check(job.pk)  # checked again, afresh
    job.refresh_from_db()
    assert (job.state, job.rows_total, job.rows.count()) == (ImportJob.State.PREVIEWED, 300, 300)


def newer_check_once(job):
    """A function that, called the first time, stops the import's check and runs a newer
    one to its end (as a user's second mapping with a worker of its own would), and does
    nothing after."""
    done = []

    def checked_again():
        if not done:
            done.append(True)
            assert import_check_stop(job=job)
            assert import_check_start(job=job, mapping=job.mapping)
            import_check(job.pk)  # the newer check, to its end

    return checked_again


def test_a_check_stopped_keeps_the_rows_of_the_newer_check_that_ended_before_it_noticed(
    sales, handed_to_a_worker, monkeypatch
):
    """Stopped and checked again with a worker of its own, which ended first: the first
    check, seeing at its next batch that the import is no longer its own, leaves the
    newer check's preview as it is."""
    monkeypatch.setattr(previewing, "PREVIEW_BATCH", 100)
    job = handed_to_a_worker(sales, csv_bytes(people(300)))
    write, checked_again = previewing.rows_insert, newer_check_once(job)

    def checked_again_after_the_first_batch(job, rows):
        write(job, rows)
        checked_again()

    monkeypatch.setattr(previewing, "rows_insert", checked_again_after_the_first_batch)
    import_check(job.pk)
    job.refresh_from_db()
    assert (job.state, job.rows_total, job.rows_valid) == (ImportJob.State.PREVIEWED, 300, 300)
    assert job.rows.count() == 300


def test_a_check_that_begins_late_deletes_no_row_of_a_newer_check(
    sales, handed_to_a_worker, monkeypatch
):
    """A worker that took the check, then stalled before it began (reading a large
    workbook), while the user stopped it and a newer check ended: the rows it deletes as
    it begins are only ever its own import's earlier ones, never the newer check's."""
    job = handed_to_a_worker(sales, csv_bytes(people(300)))
    read, checked_again = previewing.read_rows, newer_check_once(job)

    def checked_again_meanwhile(content, layout):
        checked_again()
        return read(content, layout)

    monkeypatch.setattr(previewing, "read_rows", checked_again_meanwhile)
    import_check(job.pk)
    job.refresh_from_db()
    assert (job.state, job.rows_total, job.rows_valid) == (ImportJob.State.PREVIEWED, 300, 300)
    assert job.rows.count() == 300


def test_a_file_erased_while_a_worker_checks_it_leaves_no_row_of_it(
    logged_in, sales, handed_to_a_worker, monkeypatch
):
    """The check read the file before the erasure: what it writes after is not kept."""
    monkeypatch.setattr(previewing, "PREVIEW_BATCH", 100)
    job = handed_to_a_worker(sales, csv_bytes(people(300)))
    write = previewing.rows_insert

    def erased_after_the_first_batch(job, rows):
        write(job, rows)
        if rows[0].number == 2:
            forget_number(number="601000148", reference="RODO/2026/7")  # row 150's

    monkeypatch.setattr(previewing, "rows_insert", erased_after_the_first_batch)
    import_check(job.pk)
    job.refresh_from_db()
    assert job.state == ImportJob.State.CANCELLED
    assert not ImportRow.objects.filter(phone_key__endswith="601000148").exists()
    assert not ImportRow.objects.filter(job=job).exists()


def test_statuses_and_agents_the_worker_could_not_read_are_said_on_the_preview(
    logged_in, sales, thulium, handed_to_a_worker
):
    job = handed_to_a_worker(sales, csv_bytes(people(2)))
    thulium.state.fail_next("http_503", path="/api/outbounds/00001/statuses")
    import_check(job.pk)
    job.refresh_from_db()
    assert job.state == ImportJob.State.PREVIEWED and job.rows_valid == 2
    page = logged_in.get(job.get_absolute_url()).content.decode()
    assert 'data-testid="choices-unread"' in page


def test_a_file_the_worker_cannot_read_goes_back_to_its_mapping_saying_why(
    logged_in, sales, handed_to_a_worker
):
    # Read as UTF-8, a Windows-1250 "ł" on line 6 is not text: the mapping's sample of
    # three rows reads, only the full read finds it.
    rows = [[str(601000001 + n), "Anna", "Nowak", "Opole"] for n in range(4)]
    rows.append(["601000009", "Paweł", "Nowak", "Opole"])
    content = csv_bytes(rows, header=["Telefon", "Imie", "Nazwisko", "Miasto"],
                        encoding="cp1250")
    job = handed_to_a_worker(sales, content, encoding="utf-8")

    import_check(job.pk)
    job.refresh_from_db()
    assert job.state == ImportJob.State.UPLOADED and job.rows.count() == 0
    assert "Line 6 is not valid UTF-8 text" in job.check_problem
    page = logged_in.get(job.get_absolute_url(), follow=True)
    assert page.redirect_chain[-1][0] == reverse("imports:mapping", args=[job.pk])
    assert "Line 6 is not valid UTF-8 text" in page.content.decode()
    # Read again as it was written, the file is mapped and checked afresh.
    logged_in.post(reverse("imports:read_options", args=[job.pk]),
                   {"encoding": "cp1250", "delimiter": ";"})
    page = logged_in.get(reverse("imports:mapping", args=[job.pk]))
    assert 'data-testid="file-problem"' not in page.content.decode()


def test_a_check_whose_worker_died_is_handed_to_another_when_watched(
    logged_in, sales, settings, handed_to_a_worker
):
    job = handed_to_a_worker(sales, csv_bytes(people(2)))
    # Its task was taken and its worker died: the heartbeat stopped a lease ago.
    DBTaskResult.objects.filter(pk=job.task_id).update(status="RUNNING")
    stale = timezone.now() - datetime.timedelta(seconds=settings.IMPORT_LEASE_SECONDS + 1)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=stale)

    logged_in.get(reverse("imports:progress", args=[job.pk]))
    assert checks_enqueued(job) == 2
    logged_in.get(reverse("imports:progress", args=[job.pk]))
    assert checks_enqueued(job) == 2  # renewed by the first watcher: not handed on twice

    import_check(job.pk)
    assert ImportJob.objects.get(pk=job.pk).state == ImportJob.State.PREVIEWED


def test_a_mapping_page_whose_sample_cannot_be_read_says_why(logged_in, sales):
    rows = [["601000001", "Paweł", "Nowak", "Opole"]]
    content = csv_bytes(rows, header=["Telefon", "Imie", "Nazwisko", "Miasto"],
                        encoding="cp1250")
    assert upload(logged_in, sales, content).status_code == 302
    job = ImportJob.objects.latest("pk")
    ImportJob.objects.filter(pk=job.pk).update(encoding="utf-8")  # as if chosen so
    page = logged_in.get(reverse("imports:mapping", args=[job.pk]))
    assert page.status_code == 200
    assert "Line 2 is not valid UTF-8 text" in page.content.decode()


def test_each_row_not_to_send_keeps_its_own_number_s_key_for_an_erasure(logged_in, sales):
    job = previewed(logged_in, sales, csv_bytes([
        ["601000001", "Jan", "N", "K"],      # to send
        ["12", "Ewa", "X", "Y"],             # no number: no key, not the row before's
        ["601 000 001", "Jan", "N", "K"],    # a repeat
        ["601000002", "=1+1", "N", "K"],     # a formula: refused before the form
    ]))
    keys = list(ImportRow.objects.filter(job=job).order_by("number")
                .values_list("state", "phone_key"))
    assert keys == [("queued", "48601000001"), ("invalid", ""),
                    ("duplicate", "48601000001"), ("invalid", "48601000002")]
