"""The do-not-call list checked before every send: a single addition, an import's preview,
and again just before each send, also for a number listed mid-import."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import Entry, Outcome
from audit.recording import outcome_values
from donotcall.models import Suppression
from donotcall.services import suppression_add
from imports import pushing, sending
from imports.models import ImportAttempt, ImportJob, ImportRow, RowState
from imports.pushing import import_push
from imports.report import report_lines
from imports.services import import_confirm
from portal.phones import phone_key
from portal.thulium import get_client
from records import services
from records.entries import RECORD_ADDITION
from records.models import AddedRecord
from records.services import record_add_begin_all, record_add_complete_all
from tests.conftest import COMPLIANCE, make_user, records_sent
from tests.import_files import csv_bytes, people, previewed
from tests.test_record_form import TWO_NUMBERS

# Sending needs real transactions: its threads have their own connections.
pytestmark = pytest.mark.django_db(transaction=True)
ON_THE_LIST = "on the do-not-call list"


@pytest.fixture(autouse=True)
def quick_sends(settings):
    # One row per call and one sending thread: a claim is three rows, in file order.
    settings.IMPORT_BATCH_SIZE = 1
    settings.IMPORT_CONCURRENCY = 1
    settings.IMPORT_HEARTBEAT_SECONDS = 0.2


@pytest.fixture
def officer(db):
    return make_user("officer", COMPLIANCE)


def put(officer, number, campaign=None, note=""):
    return suppression_add(key=phone_key(number), campaign=campaign, reason="request",
                           note=note, source="typed", actor=officer)


def test_a_listed_number_is_refused_next_to_the_phone_field_and_nothing_is_sent(
        logged_in, campaigns, officer, thulium):
    put(officer, "601234567", note="Pani Nowak, skarga")
    url = reverse("records:new", args=["00001"])
    response = logged_in.post(url, {"phone_number": "+48 601 234 567", "identifier": "K-1"})
    assert response.status_code == 200
    assert ON_THE_LIST in " ".join(response.context["form"].errors["phone_number"])
    page = response.content.decode()
    assert 'value="K-1"' in page
    assert "skarga" not in page  # loaders see that it is blocked, not why
    assert records_sent(thulium) == []


def test_a_listed_number_written_with_a_second_one_after_a_slash_is_not_sent(
        logged_in, campaigns, officer, thulium):
    """Glued into 22123456768, "(22) 123 45 67/68" was queued and sent past the list's
    221234567."""
    put(officer, "221234567")
    cell = "(22) 123 45 67/68"
    job = previewed(logged_in, campaigns["00001"], csv_bytes([[cell, "Jan", "Nowak", "Łódź"]]))
    row = ImportRow.objects.get(job=job)
    assert (row.state, row.problems) == (RowState.INVALID,
                                         [f"Phone number: {TWO_NUMBERS.format('/')}"])
    response = logged_in.post(reverse("records:new", args=["00001"]), {"phone_number": cell})
    assert response.context["form"].errors["phone_number"] == [TWO_NUMBERS.format("/")]
    assert records_sent(thulium) == []


def test_a_number_listed_for_another_campaign_is_sent(logged_in, campaigns, officer, thulium):
    put(officer, "601234567", campaign=campaigns["00002"])
    response = logged_in.post(reverse("records:new", args=["00001"]),
                              {"phone_number": "601234567"})
    assert response.status_code == 302
    assert [record["phone_number"] for record in records_sent(thulium)] == ["601234567"]


def test_an_expired_entry_no_longer_blocks_a_single_addition(logged_in, campaigns, officer):
    suppression = put(officer, "601234567")
    Suppression.objects.filter(pk=suppression.pk).update(expires_on="2020-01-01")
    response = logged_in.post(reverse("records:new", args=["00001"]),
                              {"phone_number": "601234567"})
    assert response.status_code == 302


def test_the_preview_sets_listed_rows_apart_and_they_are_never_sent(
        logged_in, campaigns, officer, thulium):
    rows = people(4)
    put(officer, rows[1][0])
    put(officer, rows[3][0])
    job = previewed(logged_in, campaigns["00001"], csv_bytes(rows))
    assert (job.rows_total, job.rows_valid) == (4, 2)
    page = logged_in.get(job.get_absolute_url()).content.decode()
    assert 'data-count="suppressed">2<' in page
    assert page.count(ON_THE_LIST) >= 2  # the rows' state in the list of rows set apart
    assert import_confirm(job=job)
    import_push(job.pk)
    assert sorted(record["phone_number"] for record in records_sent(thulium)) == [
        rows[0][0], rows[2][0]]
    job.refresh_from_db()
    assert job.receipt.results["rows_suppressed"] == 2
    report = "".join(report_lines(job))
    assert report.count("This number is on the do-not-call list") == 2


def test_a_number_listed_after_the_preview_is_not_sent_and_its_row_ends_suppressed(
        logged_in, campaigns, officer, thulium):
    rows = people(3)
    job = previewed(logged_in, campaigns["00001"], csv_bytes(rows))
    put(officer, rows[0][0])
    assert import_confirm(job=job)
    import_push(job.pk)
    assert [record["phone_number"] for record in records_sent(thulium)] == [
        rows[1][0], rows[2][0]]
    row = ImportRow.objects.get(job=job, number=2)
    assert row.state == RowState.SUPPRESSED
    assert not row.attempts.exists()  # no audit entry of a send was begun for it
    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE
    assert "This number is on the do-not-call list" in "".join(report_lines(job))
    # The progress accounts for it: its figures add up to the rows done (they were 2 of 3).
    progress = logged_in.get(reverse("imports:progress", args=[job.pk])).json()
    assert (progress["done"], progress["added"], progress["listed_at_send"]) == (3, 2, 1)
    page = logged_in.get(job.get_absolute_url()).content.decode()
    assert 'data-field="listed_at_send">1<' in page


def test_a_number_listed_mid_import_stops_its_row_at_the_next_claim(
        logged_in, campaigns, officer, thulium, monkeypatch):
    rows = people(5)
    job = previewed(logged_in, campaigns["00001"], csv_bytes(rows))
    begin = sending.record_add_begin_all  # each claim begins its sends through it
    claims = []

    def begin_and_list_the_last(**kwargs):
        if not claims:  # the first claim: rows 1 to 3 are on their way
            put(officer, rows[4][0])
        claims.append(len(kwargs["payloads"]))
        return begin(**kwargs)

    monkeypatch.setattr(sending, "record_add_begin_all", begin_and_list_the_last)
    assert import_confirm(job=job)
    import_push(job.pk)
    sent = [record["phone_number"] for record in records_sent(thulium)]
    assert sent == [row[0] for row in rows[:4]]
    assert ImportRow.objects.get(job=job, number=6).state == RowState.SUPPRESSED
    # The page's counts of the preview: the row was to send then (it was counted both as
    # to send and as on the list, 6 rows of 5).
    page = logged_in.get(job.get_absolute_url()).content.decode()
    preview = dict(re.findall(r'data-count="(\w+)">(\d+)<', page))
    assert (preview["rows"], preview["valid"], preview["suppressed"]) == ("5", "5", "0")


@pytest.mark.parametrize("batch_size", [1, 10])
def test_a_number_listed_while_its_send_waits_to_be_tried_again_is_not_sent(
        logged_in, campaigns, officer, thulium, monkeypatch, settings, batch_size):
    """Thulium refused the first send as unavailable (nothing done): the retry, a wait
    later, sent a number put on the list meanwhile."""
    settings.IMPORT_BATCH_SIZE, settings.IMPORT_RETRY_WAIT = batch_size, 0.01
    rows = people(2)
    job = previewed(logged_in, campaigns["00001"], csv_bytes(rows))
    thulium.state.fail_next("http_503", path="/api/batch/outbounds/00001/records"
                            if batch_size > 1 else "/api/outbounds/00001/records")
    post = sending.record_add_post_batch if batch_size > 1 else sending.record_add_post
    calls = []

    def post_then_list(*args, **kwargs):
        try:
            return post(*args, **kwargs)
        finally:
            if not calls:
                put(officer, rows[0][0])
            calls.append(1)

    monkeypatch.setattr(sending, "record_add_post_batch" if batch_size > 1
                        else "record_add_post", post_then_list)
    assert import_confirm(job=job)
    import_push(job.pk)
    sent = [record["phone_number"] for record in records_sent(thulium)]
    assert sent.count(rows[0][0]) == 1  # the send Thulium turned away, never again
    assert [record["phone_number"] for record in thulium.state.records("00001")] == [
        rows[1][0]]
    assert ImportRow.objects.get(job=job, number=2).state == RowState.SUPPRESSED
    assert ImportRow.objects.get(job=job, number=3).state == RowState.ADDED
    # Its report line says why it stopped, not what Thulium said of the send before.
    header, listed, _added = csv.reader(
        io.StringIO("".join(report_lines(job)).lstrip("\ufeff")), delimiter=";")
    assert (header[4], listed[0]) == ("message", "2")
    assert ON_THE_LIST in listed[4] and listed[5] == ""  # no request_id of the 503


@pytest.mark.parametrize("batch_size", [1, 10])
def test_a_number_listed_after_its_row_was_claimed_is_not_sent(
        logged_in, campaigns, officer, thulium, monkeypatch, settings, batch_size):
    """A claim begins its rows' sends well ahead of them (minutes with single POSTs or a
    rate limit): a number put on the list while its send waited for its turn was sent."""
    settings.IMPORT_BATCH_SIZE = batch_size
    rows = people(3)
    job = previewed(logged_in, campaigns["00001"], csv_bytes(rows))
    wait = pushing._Pace.wait  # each send waits its turn there, after its row's claim
    waited = []

    def wait_then_list(pace):
        if not waited:
            put(officer, rows[1][0])
        waited.append(1)
        wait(pace)

    monkeypatch.setattr(pushing._Pace, "wait", wait_then_list)
    assert import_confirm(job=job)
    import_push(job.pk)
    assert [record["phone_number"] for record in records_sent(thulium)] == [
        rows[0][0], rows[2][0]]
    row = ImportRow.objects.get(job=job, number=3)
    assert row.state == RowState.SUPPRESSED
    (send,) = [attempt.entry for attempt in row.attempts.select_related("entry")]
    assert (send.outcome, send.detail) == (
        Outcome.FAILED, "Not sent: the number was put on the do-not-call list after it "
        "was checked.")
    assert not AddedRecord.objects.filter(phone_key=phone_key(rows[1][0])).exists()
    assert ON_THE_LIST in "".join(report_lines(job))


def test_a_number_listed_after_the_form_checked_it_is_not_sent(
        logged_in, campaigns, officer, thulium, monkeypatch):
    """Put on the list from another page between the form's check and the send."""
    begin = services.record_add_begin_all

    def list_then_begin(**kwargs):
        put(officer, "601234567")
        return begin(**kwargs)

    monkeypatch.setattr(services, "record_add_begin_all", list_then_begin)
    response = logged_in.post(reverse("records:new", args=["00001"]),
                              {"phone_number": "601234567", "identifier": "K-1"})
    assert response.status_code == 200
    assert ON_THE_LIST in " ".join(response.context["form"].errors["phone_number"])
    assert 'value="K-1"' in response.content.decode()
    assert records_sent(thulium) == []
    send = Entry.objects.get(kind=RECORD_ADDITION.slug)
    assert (send.outcome, send.detail) == (
        Outcome.FAILED, "Not sent: the number was put on the do-not-call list after it "
        "was checked.")
    assert not AddedRecord.objects.exists()


def left_by_a_dead_worker(client, campaign, rows) -> ImportJob:
    """An import whose rows a worker claimed, then died holding (its lease ran out)."""
    job = previewed(client, campaign, csv_bytes(rows))
    assert import_confirm(job=job)
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING)
    ImportRow.objects.filter(job=job).update(
        state=RowState.SENDING, claimed_by="dead-worker",
        lease_until=timezone.now() - timedelta(minutes=5))
    return job


def test_a_dead_workers_row_is_checked_against_the_list_unless_it_was_sent(
        logged_in, campaigns, officer, thulium, user):
    """A row the dead worker never sent is suppressed; one it sent may be in Thulium, so it
    is looked up there instead of being set apart."""
    rows = people(2)
    job = left_by_a_dead_worker(logged_in, campaigns["00001"], rows)
    sent = ImportRow.objects.get(job=job, number=3)
    get_client().add_record("00001", sent.payload)  # Thulium took it; the answer was lost
    (lost,) = record_add_begin_all(campaign=campaigns["00001"], payloads=[sent.payload],
                                   actor=user)
    record_add_complete_all([(lost, outcome_values(outcome=Outcome.UNKNOWN))])
    ImportAttempt.objects.create(row=sent, entry=lost)
    for phone, *_rest in rows:
        put(officer, phone)

    import_push(job.pk)

    assert ImportRow.objects.get(job=job, number=2).state == RowState.SUPPRESSED
    assert ImportRow.objects.get(job=job, number=3).state == RowState.ADDED  # found there
    assert [record["phone_number"] for record in records_sent(thulium)] == [rows[1][0]]


@pytest.mark.parametrize("outcome", [Outcome.UNKNOWN, Outcome.FAILED],
                         ids=["unanswered-not-in-thulium", "failed"])
def test_a_dead_workers_row_sent_without_landing_is_not_sent_again_once_listed(
        logged_in, campaigns, officer, thulium, user, outcome):
    """Its send did not land (Thulium failed it, or the answer was lost and Thulium is found
    not to hold it): listed since, it is suppressed, not sent again."""
    rows = people(1)
    job = left_by_a_dead_worker(logged_in, campaigns["00001"], rows)
    row = ImportRow.objects.get(job=job, number=2)
    (tried,) = record_add_begin_all(campaign=campaigns["00001"], payloads=[row.payload],
                                    actor=user)
    record_add_complete_all([(tried, outcome_values(outcome=outcome))])
    ImportAttempt.objects.create(row=row, entry=tried)
    put(officer, rows[0][0])

    import_push(job.pk)

    assert records_sent(thulium) == []
    assert ImportRow.objects.get(pk=row.pk).state == RowState.SUPPRESSED
