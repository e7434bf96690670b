"""Imports sent in batches: each row its own verdict from its item of Thulium's answer, a
refused batch sent row by row, single POSTs when the batch call is not allowed, and
nothing sent twice when an answer is lost."""

import csv
import datetime
import io
import queue
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from audit.models import Entry, Outcome
from audit.recording import outcome_values
from audit.verify import verify_chain
from imports import pushing, sending
from imports.fallback import batch_refusal, batch_refusals_lift, single_posts_note
from imports.models import BatchRefusal, ImportAttempt, ImportJob, ImportRow, RowState
from imports.pushing import import_push
from imports.report import report_lines
from imports.services import import_confirm
from notices.models import Notice
from notices.sending import notice_message
from portal.phones import phone_key
from portal.thulium import RecordResult, get_client
from portal.thulium.batch import UNKNOWN
from records.models import AddedRecord
from records.services import (
    LISTED_WITHOUT_ID,
    batch_values,
    record_add_begin_all,
    record_add_complete_all,
    record_checks_begin,
    record_checks_run,
)
from tests.conftest import LATE, api_calls, records_sent
from tests.db_threads import closing
from tests.import_files import csv_bytes, people, previewed
from tests.test_record_check import day_listed

pytestmark = pytest.mark.django_db(transaction=True)

BATCH = "/api/batch/outbounds/00001/records"
SINGLE = "/api/outbounds/00001/records"


@pytest.fixture(autouse=True)
def batches_of_four(settings):
    settings.IMPORT_BATCH_SIZE = 4
    # One sending thread: batches go in the order of the file, so a fault queued for the
    # next batch call hits the first batch (two workers' overlap has its own test).
    settings.IMPORT_CONCURRENCY = 1
    settings.IMPORT_RETRY_WAIT = 0.01
    settings.IMPORT_RETRY_MAX_WAIT = 0.05
    settings.IMPORT_HEARTBEAT_SECONDS = 0.2


@pytest.fixture
def sales(campaigns):
    return campaigns["00001"]


def confirmed(client, campaign, rows, **content) -> ImportJob:
    job = previewed(client, campaign, csv_bytes(rows, **content))
    assert import_confirm(job=job)
    return job


def pushed(client, campaign, rows, **content) -> ImportJob:
    job = confirmed(client, campaign, rows, **content)
    import_push(job.pk)
    return ImportJob.objects.get(pk=job.pk)


def lost_and_pushed(thulium, job, *, applied=True) -> ImportJob:
    """The job pushed, the answer to its first batch lost: Thulium stored it (a late
    answer), or not (a dropped connection), before the push's lookup is answered though
    the sandbox stalled (a `first` fault, on the push's first call)."""
    thulium.state.fail_next("timeout", path=BATCH, apply=applied,
                            delay=LATE if applied else 0.1, first=True)
    import_push(job.pk)
    return ImportJob.objects.get(pk=job.pk)


def numbers(count, first=601000000) -> list[str]:
    return [str(first + n) for n in range(count)]


def calls_to(thulium, path) -> list[dict]:
    return [call for call in api_calls(thulium, "POST") if call["path"] == path]


def sends(thulium) -> Counter:
    """How many times each number was sent, alone or in a batch."""
    return Counter(record["phone_number"] for record in records_sent(thulium))


def held(thulium) -> Counter:
    return Counter(record["phone_number"] for record in thulium.state.records("00001"))


def by_phone(job) -> dict[str, ImportRow]:
    return {row.phone_number: row for row in job.rows.all()}


def steps(row) -> list[tuple[str, str]]:
    return [(attempt.entry.kind, attempt.entry.outcome)
            for attempt in row.attempts.order_by("entry__created_at", "pk")]


def test_a_number_thulium_holds_is_refused_as_existing_whatever_the_file_s_spelling(
        logged_in, sales, thulium):
    """Thulium held "601234567" (loaded in its own panel); the file's "+48 601 234 567" was
    sent as written, and the sandbox added the person a second time."""
    held_id = get_client().add_record("00001", {"phone_number": "601234567"}).record_id
    job = pushed(logged_in, sales, [["+48 601 234 567", "Zofia", "Kowalska", "Łódź"],
                                    ["0048 602 000 001", "Jan", "Nowak", "Kraków"]])

    (batch,) = calls_to(thulium, BATCH)
    assert [record["phone_number"] for record in batch["json"]["records"]] == [
        "601234567", "602000001"]
    assert held(thulium) == Counter(["601234567", "602000001"])
    rows = by_phone(job)
    assert [row.last_send().sent for row in rows.values()] == batch["json"]["records"]
    assert (rows["601234567"].state, rows["601234567"].last_send().results) == (
        RowState.REFUSED, {"batch_status": "ALREADY_EXISTS"})
    assert rows["602000001"].state == RowState.ADDED
    assert {record["record_id"] for record in thulium.state.records("00001")
            if record["phone_number"] == "601234567"} == {held_id}


@pytest.mark.parametrize("shape", ["keyed", "list"])
def test_each_row_of_a_mixed_batch_has_the_verdict_of_its_own_item(
    logged_in, sales, thulium, shape
):
    thulium.state.batch_shape = shape
    held_id = get_client().add_record("00001", {"phone_number": "601000001"}).record_id
    thulium.state.fail_in_batch(["601000002"])
    job = pushed(logged_in, sales, [[phone, "Zofia", "Nowak", "Łódź"] for phone in numbers(10)])

    assert job.state == ImportJob.State.DONE
    # 10 rows in batches of 4: three calls, each number sent once, none alone.
    assert [len(call["json"]["records"]) for call in calls_to(thulium, BATCH)] == [4, 4, 2]
    assert len(calls_to(thulium, SINGLE)) == 1  # the test's own, above
    assert sends(thulium) == Counter(numbers(10)) + Counter(["601000001"])
    rows = by_phone(job)
    assert rows["601000001"].state == RowState.REFUSED
    existing = rows["601000001"].last_send()
    assert (existing.outcome, existing.results) == (Outcome.REFUSED,
                                                    {"batch_status": "ALREADY_EXISTS"})
    assert rows["601000002"].state == RowState.REFUSED
    assert rows["601000002"].last_send().messages == ["Sandbox: refused on request."]
    added = [row for row in rows.values() if row.state == RowState.ADDED]
    assert len(added) == 8
    stored = {record["phone_number"]: record["record_id"]
              for record in thulium.state.records("00001")}
    assert all(row.last_send().results == {"record_id": stored[row.phone_number],
                                           "batch_status": "ADDED"} for row in added)
    assert stored["601000001"] == held_id
    receipt = job.receipt.results
    assert (receipt["added"], receipt["refused"], receipt["unknown"]) == (8, 2, 0)
    assert Entry.objects.filter(kind="record-addition").count() == 10
    assert verify_chain().problem == ""


def test_two_rows_with_the_same_number_never_travel_in_one_batch(logged_in, sales, thulium):
    """The preview flags rows repeated in the file; should rows with one number still be
    queued together, batching parts them."""
    rows = [[phone, "Zofia", "Nowak", "Łódź"] for phone in numbers(3)]
    job = previewed(logged_in, sales, csv_bytes(rows))
    # What the preview would have refused: the same number on three rows.
    job.rows.update(phone_key="48601000000")
    assert import_confirm(job=job)
    import_push(job.pk)
    assert [len(call["json"]["records"]) for call in calls_to(thulium, BATCH)] == [1, 1, 1]


def test_an_answer_missing_an_item_leaves_that_row_to_be_found_in_thulium(logged_in, sales,
                                                                          thulium):
    thulium.state.leave_out_of_batch_answer(["601000002"])
    job = pushed(logged_in, sales, [[phone, "Zofia", "Nowak", "Łódź"] for phone in numbers(4)])

    row = by_phone(job)["601000002"]
    assert row.state == RowState.ADDED
    assert steps(row) == [("record-addition", Outcome.UNKNOWN),
                          ("record-check", Outcome.SUCCEEDED)]
    check = row.last_send()
    assert check.results == {"found": True,
                             "record_id": held_id(thulium, "601000002")}
    assert sends(thulium) == Counter(numbers(4))  # found, so never sent again
    assert job.receipt.results["unknown"] == 0


def held_id(thulium, phone) -> str:
    (record,) = [r for r in thulium.state.records("00001") if r["phone_number"] == phone]
    return str(record["record_id"])


def test_a_record_listed_without_its_id_is_added_earlier_and_the_rest_of_its_batch_added(
    logged_in, sales, thulium
):
    """The check of a batch whose answer was lost failed on that one record, and every
    row of the batch ended unknown."""
    thulium.state.list_without_id(["601000002"])
    job = lost_and_pushed(thulium, confirmed(
        logged_in, sales, [[phone, "Zofia", "Nowak", "Łódź"] for phone in numbers(4)]))

    assert sends(thulium) == Counter(numbers(4))  # none sent again
    rows = by_phone(job)
    assert {phone: row.state for phone, row in rows.items()} == {
        **dict.fromkeys(numbers(4), RowState.ADDED), "601000002": RowState.ADDED_EARLIER}
    assert [rows[phone].last_send().results for phone in numbers(4)] == [
        {"found": True, "record_id": held_id(thulium, phone)} if phone != "601000002"
        else {"found": True} for phone in numbers(4)]
    check = rows["601000002"].last_send()
    assert (check.kind, check.detail) == ("record-check", LISTED_WITHOUT_ID)
    known = AddedRecord.objects.get(phone_key=phone_key("601000002"))
    assert (known.status, known.record_id, known.entry_id) == ("added", "", check.related_id)
    receipt = job.receipt.results
    assert (receipt["added"], receipt["added_earlier"], receipt["unknown"]) == (3, 1, 0)
    assert verify_chain().problem == ""


@pytest.mark.parametrize("applied", [True, False])
def test_a_lost_batch_answer_ends_with_each_number_once_in_thulium_and_none_sent_twice(
    logged_in, sales, thulium, applied
):
    """Applied, the rows are found and not sent again; not applied, they are sent again."""
    job = lost_and_pushed(thulium, confirmed(
        logged_in, sales, [[phone, "Zofia", "Nowak", "Łódź"] for phone in numbers(6)]),
        applied=applied)

    assert held(thulium) == Counter(numbers(6))
    lost = numbers(4)  # the first batch
    expected = Counter(numbers(6)) + (Counter() if applied else Counter(lost))
    assert sends(thulium) == expected
    assert Counter(row.state for row in job.rows.all()) == {RowState.ADDED: 6}
    checks = Entry.objects.filter(kind="record-check").order_by("pk")
    assert [check.sent["phone_number"] for check in checks] == lost
    assert {check.results["found"] for check in checks} == {applied}
    row = by_phone(job)["601000000"]
    if applied:
        assert steps(row) == [("record-addition", Outcome.UNKNOWN),
                              ("record-check", Outcome.SUCCEEDED)]
    else:
        assert steps(row) == [("record-addition", Outcome.UNKNOWN),
                              ("record-check", Outcome.SUCCEEDED),
                              ("record-addition", Outcome.SUCCEEDED)]
    # One listing answered the whole batch.
    listings = [call for call in api_calls(thulium, "GET") if call["path"].startswith(SINGLE)]
    assert len(listings) == 1
    assert job.receipt.results["unknown"] == 0
    assert verify_chain().problem == ""
    # The report gives each row its last step's record: the check's, or the send after it.
    report = csv.reader(io.StringIO("".join(report_lines(job)).lstrip("\ufeff")), delimiter=";")
    assert [tuple(line[1:4]) for line in list(report)[1:]] == [
        (phone, str(RowState.ADDED.label), held_id(thulium, phone)) for phone in numbers(6)]


def test_a_check_lists_back_only_to_the_records_thulium_answered_before_the_send(
    logged_in, sales, thulium
):
    """A lost send Thulium never applied is looked for back to the records it said it had
    added before that send, not through every record of the last quarter of an hour."""
    client = get_client()
    for first in range(700000000, 700001000, 100):  # ten pages of others' records first
        client.add_records("00001", [{"phone_number": phone} for phone in numbers(100, first)])
    thulium.state.received_forget()
    # The second batch call's answer is lost, and Thulium did not apply it.
    thulium.state.fail_next("timeout", path=BATCH, apply=False, delay=0.1, every=2)
    job = pushed(logged_in, sales, [[phone, "Zofia", "Nowak", "Łódź"] for phone in numbers(8)])

    assert Counter(row.state for row in job.rows.all()) == {RowState.ADDED: 8}
    assert held(thulium) == Counter(numbers(8)) + Counter(numbers(1000, 700000000))
    assert sends(thulium) == Counter(numbers(8)) + Counter(numbers(8)[4:])
    checks = Entry.objects.filter(kind="record-check").order_by("pk")
    assert [check.sent["phone_number"] for check in checks] == numbers(8)[4:]
    assert {check.results["found"] for check in checks} == {False}
    # The count and the last page, which holds the first batch's records: not the nine
    # pages of older records behind them (eleven listings without the first batch).
    listings = [call for call in api_calls(thulium, "GET") if call["path"].startswith(SINGLE)]
    assert len(listings) == 2


def test_a_broken_batch_answer_is_reconciled_like_a_lost_one(logged_in, sales, thulium):
    thulium.state.fail_next("broken_json", path=BATCH)
    job = pushed(logged_in, sales, [[phone, "Zofia", "Nowak", "Łódź"] for phone in numbers(4)])
    assert sends(thulium) == Counter(numbers(4)) and held(thulium) == Counter(numbers(4))
    lost = by_phone(job)["601000000"].attempts.order_by("entry__created_at").first().entry
    # What Thulium sent is kept for the audit, after the portal's words.
    assert (lost.outcome, lost.detail) == (Outcome.UNKNOWN,
                                           'the answer is not valid JSON\n{"record_id": ')
    assert Counter(row.state for row in job.rows.all()) == {RowState.ADDED: 4}


def test_a_500_before_applying_sends_the_batch_again(logged_in, sales, thulium):
    thulium.state.fail_next("http_500", path=BATCH)
    job = pushed(logged_in, sales, [[phone, "Zofia", "Nowak", "Łódź"] for phone in numbers(4)])
    assert Counter(row.state for row in job.rows.all()) == {RowState.ADDED: 4}
    assert steps(by_phone(job)["601000003"]) == [("record-addition", Outcome.FAILED),
                                                 ("record-addition", Outcome.SUCCEEDED)]
    # Nothing may have landed: no listing before sending again.
    assert not [call for call in api_calls(thulium, "GET") if call["path"].startswith(SINGLE)]


def test_too_many_requests_pause_the_push_as_asked_and_spend_no_try(
    logged_in, sales, thulium, settings, monkeypatch
):
    """Thulium answering 429 with Retry-After: 60 failed every row within seconds, each 429
    a try of its budget, the wait asked for ignored."""
    settings.IMPORT_RETRY_ATTEMPTS = 2
    thulium.state.fail_next("http_429", times=3, path=BATCH, delay=60)
    paused = []
    pause = pushing._Pace.pause
    # The waits asked for, recorded; the test does not sit through them.
    monkeypatch.setattr(pushing._Pace, "pause",
                        lambda pace, seconds: paused.append(seconds) or pause(pace, 0))
    job = pushed(logged_in, sales, [[phone, "Zofia", "Nowak", "Łódź"] for phone in numbers(4)])

    assert (job.state, Counter(row.state for row in job.rows.all())) == (
        ImportJob.State.DONE, {RowState.ADDED: 4})
    assert paused == [60, 60, 60]
    assert len(calls_to(thulium, BATCH)) == 4
    assert held(thulium) == Counter(numbers(4))


def test_a_short_outage_of_thulium_fails_no_row(logged_in, sales, thulium, settings):
    """Production's four tries from a second failed every row 7 s into an outage."""
    settings.IMPORT_RETRY_ATTEMPTS = 2
    settings.IMPORT_OUTAGE_MAX_WAIT = 600  # far longer than the test's outage
    thulium.state.fail_next("http_503", times=3, path=BATCH)
    thulium.state.fail_next("reset", times=2, path=BATCH)
    job = pushed(logged_in, sales, [[phone, "Zofia", "Nowak", "Łódź"] for phone in numbers(4)])

    assert (job.state, Counter(row.state for row in job.rows.all())) == (
        ImportJob.State.DONE, {RowState.ADDED: 4})
    assert len(calls_to(thulium, BATCH)) == 6
    assert held(thulium) == Counter(numbers(4))


def test_a_batch_refused_as_a_whole_is_sent_row_by_row(logged_in, sales, thulium):
    thulium.state.fail_next("refuse", path=BATCH)
    job = pushed(logged_in, sales, [[phone, "Zofia", "Nowak", "Łódź"] for phone in numbers(6)])
    assert len(calls_to(thulium, SINGLE)) == 4  # the refused batch's rows, one by one
    assert sends(thulium) == Counter(numbers(6)) + Counter(numbers(4))
    assert held(thulium) == Counter(numbers(6))
    row = by_phone(job)["601000000"]
    assert row.state == RowState.ADDED
    refused, added = (attempt.entry for attempt in row.attempts.order_by("entry__created_at"))
    assert (refused.outcome, refused.messages, refused.results) == (
        Outcome.REFUSED, ["Sandbox: refused on request."], {"batch_refused": True})
    assert refused.request_id and added.outcome == Outcome.SUCCEEDED
    assert job.single_posts is None  # a refusal of what was sent, not of the method


@pytest.mark.parametrize("status", [401, 403, 404, 405])
def test_a_batch_call_the_api_user_may_not_make_falls_back_to_single_posts(
    logged_in, sales, thulium, status
):
    thulium.state.refuse("POST", "batch/outbounds/*", status)
    job = pushed(logged_in, sales, [[phone, "Zofia", "Nowak", "Łódź"] for phone in numbers(9)])

    assert job.state == ImportJob.State.DONE
    assert held(thulium) == Counter(numbers(9))
    assert Counter(row.state for row in job.rows.all()) == {RowState.ADDED: 9}
    # One refused batch call, then single POSTs only.
    assert len(calls_to(thulium, BATCH)) == 1
    refusal = job.single_posts
    assert refusal == batch_refusal() and refusal.http_status == status
    assert refusal.request_id
    assert job.receipt.results["sent_one_by_one"] == {
        "http_status": status, "request_id": refusal.request_id,
        "refused_at": refusal.refused_at.isoformat()}
    page = logged_in.get(job.get_absolute_url()).content.decode()
    assert "one record per call" in page and refusal.request_id in page

    # The next import does not ask again.
    thulium.state.reset()
    second = pushed(logged_in, sales, [[phone, "Jan", "Nowak", "Łódź"]
                                       for phone in numbers(3, first=602000000)])
    assert calls_to(thulium, BATCH) == [] and len(calls_to(thulium, SINGLE)) == 3
    assert second.single_posts == refusal

    # Lifted by an administrator, the batch call is tried again.
    assert batch_refusals_lift(BatchRefusal.objects.all(), by="admin") == 1
    third = pushed(logged_in, sales, [[phone, "Ewa", "Nowak", "Łódź"]
                                      for phone in numbers(3, first=603000000)])
    assert len(calls_to(thulium, BATCH)) == 1 and third.single_posts is None


def test_a_campaign_thulium_no_longer_holds_stops_the_import_without_a_call_per_row(
    logged_in, user, sales, thulium
):
    """Not found on the batch path and on the single one alike: the campaign is gone. Each
    row was sent on its own to be refused "Campaign not found." (1,000 rows, 1,000 calls),
    and the import ended done. It stops at the first refusal, and says why; the batch
    method is not refused, so other imports keep sending batches."""
    user.email = "manager@example.com"
    user.save()
    thulium.state.refuse("POST", "batch/outbounds/*", 404)
    thulium.state.refuse("POST", "outbounds/*", 404)
    job = pushed(logged_in, sales, [[phone, "Zofia", "Nowak", "Łódź"] for phone in numbers(12)])

    assert (len(calls_to(thulium, BATCH)), len(calls_to(thulium, SINGLE))) == (1, 1)
    assert Counter(row.state for row in job.rows.all()) == {RowState.REFUSED: 1,
                                                            RowState.NOT_SENT: 11}
    assert job.state == ImportJob.State.STOPPED
    assert job.stop_reason.startswith(
        "Thulium refused to add records to this campaign: it no longer holds it, or the "
        "portal's API user may not add records to it (HTTP 404, request id ")
    assert job.receipt.detail == job.stop_reason
    assert escape(job.stop_reason) in logged_in.get(job.get_absolute_url()).content.decode()
    assert batch_refusal() is None
    # The loader's mail says why too: it said Thulium had refused the portal's credentials.
    mail = notice_message(Notice.objects.get(kind="import-finished")).body
    assert job.stop_reason in mail and "credentials" not in mail


def test_refused_credentials_are_no_reason_to_fall_back(logged_in, sales, thulium, settings):
    job = previewed(logged_in, sales, csv_bytes(people(6)))
    assert import_confirm(job=job)
    settings.THULIUM_API_PASSWORD = "wrong"
    import_push(job.pk)
    job.refresh_from_db()
    assert job.state == ImportJob.State.STOPPED
    assert "did not accept the portal's API credentials" in job.stop_reason
    assert not BatchRefusal.objects.exists() and job.single_posts is None
    # Rows whose only send was the batch refused as a whole have no verdict: not sent, as
    # with single POSTs (they were "failed", and the receipt said so).
    sent_alone = {number for number, results, detail in ImportAttempt.objects.filter(
        row__job=job).values_list("row__number", "entry__results", "entry__detail")
        if not results.get("batch_refused") and detail != sending.NOT_SENT}
    for row in job.rows.all():
        assert row.state == (RowState.FAILED if row.number in sent_alone
                             else RowState.NOT_SENT), row.number
    assert len(sent_alone) < 6


def test_a_refusal_is_remembered_for_a_day_only(logged_in, sales, thulium):
    thulium.state.refuse("POST", "batch/outbounds/*", 403)
    pushed(logged_in, sales, [[phone, "Zofia", "Nowak", "Łódź"] for phone in numbers(2)])
    assert batch_refusal() is not None
    BatchRefusal.objects.update(refused_at=BatchRefusal.objects.get().refused_at
                                - timedelta(days=1, seconds=1))
    assert batch_refusal() is None


def test_the_admin_can_lift_a_refusal(admin_client, thulium):
    refusal = BatchRefusal.objects.create(http_status=403, request_id="abc", detail="no")
    response = admin_client.post(reverse("admin:imports_batchrefusal_changelist"), {
        "action": "lift", "_selected_action": [refusal.pk]})
    assert response.status_code == 302
    refusal.refresh_from_db()
    assert refusal.lifted_at is not None and refusal.lifted_by == "admin"
    assert batch_refusal() is None


def test_the_admin_names_a_refusal_by_its_time_in_the_portal_s_zone(admin_client):
    """It read "HTTP 403 at 2027-07-01 08:00": UTC, two hours off in Warsaw, with no zone."""
    refusal = BatchRefusal.objects.create(
        http_status=403, refused_at=datetime.datetime(2027, 7, 1, 8, 0, tzinfo=datetime.UTC))
    page = admin_client.get(reverse("admin:imports_batchrefusal_change", args=[refusal.pk]))
    assert "<h2>HTTP 403 at 2027-07-01 10:00 CEST</h2>" in page.content.decode()


def test_a_refusal_in_the_hour_the_clocks_repeat_is_noted_with_its_zone():
    """02:30 comes twice on 2027-10-31 in Warsaw: the import's page and receipt said
    "at 2027-10-31 02:30" of either."""
    first = datetime.datetime(2027, 10, 31, 0, 30, tzinfo=datetime.UTC)
    notes = [single_posts_note({"http_status": 403, "request_id": "r-1",
                                "refused_at": moment.isoformat()})
             for moment in (first, first + timedelta(hours=1))]
    assert "at 2027-10-31 02:30 CEST." in notes[0] and "at 2027-10-31 02:30 CET." in notes[1]


def lost_then_checked_by_a_dead_worker(
    client, campaign, user
) -> tuple[ImportJob, ImportRow, Entry]:
    """An import of one row Thulium took, whose answer was lost, and whose worker died
    while checking it: the job, the row and the row's begun check."""
    job = previewed(client, campaign, csv_bytes(people(1)))
    assert import_confirm(job=job)
    row = job.rows.get()
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING)
    ImportRow.objects.filter(pk=row.pk).update(
        state=RowState.SENDING, claimed_by="dead-worker", lease_until=timezone.now()
        - timedelta(minutes=5))
    get_client().add_record("00001", row.payload)
    (lost,) = record_add_begin_all(campaign=campaign, payloads=[row.payload], actor=user)
    record_add_complete_all([(lost, outcome_values(outcome=Outcome.UNKNOWN))])
    (check,) = record_checks_begin([lost], since=lost.created_at, until=lost.created_at,
                                   actor=user)
    ImportAttempt.objects.bulk_create([ImportAttempt(row=row, entry=lost),
                                       ImportAttempt(row=row, entry=check)])
    return job, row, check


def test_a_check_a_dead_worker_left_unfinished_is_asked_again_before_any_send(
    logged_in, sales, thulium, user
):
    job, row, cut_off = lost_then_checked_by_a_dead_worker(logged_in, sales, user)

    import_push(job.pk)

    row.refresh_from_db()
    assert row.state == RowState.ADDED
    assert steps(row) == [("record-addition", Outcome.UNKNOWN),
                          ("record-check", Outcome.FAILED),
                          ("record-check", Outcome.SUCCEEDED)]
    cut_off.refresh_from_db()
    assert "stopped before Thulium's answer was recorded" in cut_off.detail
    assert sends(thulium) == Counter([row.phone_number])  # the test's own POST only
    assert verify_chain().problem == ""


def test_a_row_a_dead_worker_found_listed_without_its_id_is_added_earlier_not_sent_again(
    logged_in, sales, thulium, user
):
    """Its check, found held with no record_id, was taken for "not found": the push that
    took the row over sent it again."""
    job, row, check = lost_then_checked_by_a_dead_worker(logged_in, sales, user)
    thulium.state.list_without_id([row.payload["phone_number"]])
    record_checks_run([check], since=check.created_at, until=check.created_at)

    import_push(job.pk)

    row.refresh_from_db()
    assert row.state == RowState.ADDED_EARLIER
    assert steps(row) == [("record-addition", Outcome.UNKNOWN),
                          ("record-check", Outcome.SUCCEEDED)]
    assert sends(thulium) == Counter([row.phone_number])  # the test's own POST only


def test_rows_whose_answers_were_lost_days_apart_are_each_found_in_one_listing(
    logged_in, sales, thulium, user
):
    """The check lists the campaign's records from the day of the earliest send to that of
    the latest moment one could land: each row is found, and nothing is sent again."""
    job = previewed(logged_in, sales, csv_bytes(people(3)))
    assert import_confirm(job=job)
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING)
    job.rows.update(state=RowState.SENDING, claimed_by="dead-worker",
                    lease_until=timezone.now() - timedelta(minutes=5))
    rows = list(job.rows.order_by("pk"))
    earliest = timezone.now() - timedelta(days=3)
    for days_later, row in enumerate(rows):
        # Thulium took the row that day, its answer was lost; then the worker died.
        sent_at = earliest + timedelta(days=days_later)
        thulium.state.set_now(sent_at)
        get_client().add_record("00001", row.payload)
        (lost,) = record_add_begin_all(campaign=sales, payloads=[row.payload], actor=user,
                                       created_at=sent_at)
        record_add_complete_all([(lost, outcome_values(outcome=Outcome.UNKNOWN))])
        ImportAttempt.objects.create(row=row, entry=lost)
    thulium.state.set_now(None)

    import_push(job.pk)

    assert Counter(row.state for row in job.rows.all()) == {RowState.ADDED: 3}
    checks = Entry.objects.filter(kind="record-check").order_by("pk")
    assert [check.results for check in checks] == [
        {"found": True, "record_id": held_id(thulium, row.phone_number)} for row in rows]
    assert {check.sent["create_date_from"] for check in checks} == {day_listed(earliest)}
    # The latest send's day is today's: no record is later, and no last day is asked.
    assert not any("create_date_to" in check.sent for check in checks)
    assert sends(thulium) == Counter(row.phone_number for row in rows)  # the test's own


def test_a_push_whose_database_thread_fails_hands_back_the_batches_it_did_not_send(
    logged_in, sales, thulium, monkeypatch, caplog
):
    """A statement timeout or a dropped connection in the claiming thread marked the rows
    still waiting for a sending thread "not sent", and the next push called the import
    done. They stay claimed, and the next push sends them, once."""
    job = previewed(logged_in, sales, csv_bytes(people(12)))  # 3 batches, claimed at once
    assert import_confirm(job=job)
    pushes, ending = [], threading.Event()
    hear_stop = pushing._Push.hear_stop

    def failing_at_the_second_turn(push):
        pushes.append(push)
        if len(pushes) == 1:
            put = push.to_send.put
            # The senders' last item: the push failed and is ending.
            push.to_send.put = lambda item: (item is None and ending.set(), put(item))
        else:
            raise OperationalError("canceling statement due to statement timeout")
        hear_stop(push)

    post = sending.record_add_post_batch

    def once_the_push_failed(entries, **kwargs):
        assert ending.wait(timeout=30)  # the other batches still wait for this thread
        return post(entries, **kwargs)

    monkeypatch.setattr(pushing._Push, "hear_stop", failing_at_the_second_turn)
    monkeypatch.setattr(sending, "record_add_post_batch", once_the_push_failed)
    with pytest.raises(OperationalError):
        import_push(job.pk)
    monkeypatch.undo()

    rows = by_phone(job)
    assert Counter(row.state for row in rows.values()) == {RowState.ADDED: 4,
                                                           RowState.SENDING: 8}
    assert ("failed (OperationalError: canceling statement due to statement timeout); 8 "
            "claimed rows not sent were handed back") in caplog.text
    ImportRow.objects.filter(job=job, state=RowState.SENDING).update(
        lease_until=timezone.now() - timedelta(minutes=5))

    import_push(job.pk)

    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE
    assert Counter(by_phone(job)[phone].state for phone in rows) == {RowState.ADDED: 12}
    assert sends(thulium) == Counter(list(rows))  # each once
    assert not [call for call in api_calls(thulium, "GET") if call["path"].startswith(SINGLE)]
    handed_back = [row for row in by_phone(job).values() if len(steps(row)) == 2]
    assert len(handed_back) == 8
    assert {tuple(steps(row)) for row in handed_back} == {
        (("record-addition", Outcome.FAILED), ("record-addition", Outcome.SUCCEEDED))}
    assert not Entry.objects.filter(detail=sending.NOT_SENT).exists()
    assert verify_chain().problem == ""


def test_a_batch_item_echoing_the_password_is_kept_with_the_password_redacted(settings):
    """The item was kept as it came, in the audit kept for good."""
    item = {"phone_number": "601234567", "debug": f"PHP_AUTH_PW={settings.THULIUM_API_PASSWORD}"}
    detail = batch_values(RecordResult(UNKNOWN, raw=item))["detail"]
    assert "PHP_AUTH_PW=[redacted]" in detail
    assert settings.THULIUM_API_PASSWORD not in detail


def test_a_push_whose_heartbeat_comes_late_never_takes_over_its_own_rows_in_flight(
    logged_in, sales, thulium, settings, monkeypatch
):
    """Under load, a worker's heartbeat came after its rows' lease had run out (a claim
    lasting longer than a lease; a beat stepping over rows a sending thread had locked):
    its next claim took over rows its own sending thread was about to send, and another of
    its threads sent them too (in test_import_workers, the worker resuming a killed one's
    rows claimed them for 4.6 s at a load of 12, and sent 10 or 30 rows twice)."""
    settings.IMPORT_CONCURRENCY = 2  # a thread free for the batch, were it taken over
    job = previewed(logged_in, sales, csv_bytes(people(4)))  # one batch
    assert import_confirm(job=job)
    late, looked, sent_again = threading.Event(), queue.Queue(), threading.Event()
    beat, taken_over = pushing._Push.beat_if_due, pushing._Push.taken_over
    post, posted = sending.record_add_post_batch, []

    def beat_unless_late(push):
        if not late.is_set():
            beat(push)

    def looking(push, count):
        looks = late.is_set() and count > 0 and time.monotonic() >= push.next_takeover
        rows = taken_over(push, count)
        if looks:
            looked.put(rows)
        return rows

    def lease_running_out_meanwhile(entries, **kwargs):
        posted.append(entries)
        if len(posted) > 1:
            sent_again.set()
            return post(entries, **kwargs)
        ImportRow.objects.filter(job=job, state=RowState.SENDING).update(
            lease_until=timezone.now() - timedelta(minutes=5))
        late.set()
        if looked.get(timeout=30):  # taken over: sent by the other thread first
            assert sent_again.wait(timeout=30)
        return post(entries, **kwargs)

    monkeypatch.setattr(pushing._Push, "beat_if_due", beat_unless_late)
    monkeypatch.setattr(pushing._Push, "taken_over", looking)
    monkeypatch.setattr(sending, "record_add_post_batch", lease_running_out_meanwhile)
    import_push(job.pk)

    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE
    assert sends(thulium) == Counter(phone for phone, *_ in people(4))
    assert Counter(row.state for row in job.rows.all()) == {RowState.ADDED: 4}
    assert not Entry.objects.filter(kind="record-check").exists()
    assert verify_chain().problem == ""


def taken_over_once_stalled(job, stalled: list):
    """The first time it is called: this push's rows' lease runs out, and another push takes
    them over and ends the import."""
    if not stalled:
        stalled.append(True)
        ImportRow.objects.filter(job=job, state=RowState.SENDING).update(
            lease_until=timezone.now() - timedelta(minutes=5))
        other = threading.Thread(target=closing(lambda: import_push(job.pk)))
        other.start()
        other.join(60)


def ended_by_the_other_push(job, thulium) -> None:
    """The import done, each row added once, by the push that took it over: its check, which
    found none, and its send, after the stalled push's send it completed as unknown; nothing
    left pending."""
    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE
    assert held(thulium) == Counter(phone for phone, *_ in people(4))
    assert Counter(row.state for row in job.rows.all()) == {RowState.ADDED: 4}
    row = job.rows.order_by("number").first()
    assert steps(row) == [("record-addition", Outcome.UNKNOWN),
                          ("record-check", Outcome.SUCCEEDED),
                          ("record-addition", Outcome.SUCCEEDED)]
    assert not Entry.objects.filter(outcome=Outcome.PENDING).exists()
    assert verify_chain().problem == ""


def test_rows_another_push_took_over_while_this_one_stalled_are_sent_by_that_one_only(
    logged_in, sales, thulium, monkeypatch
):
    """A worker whose heartbeat stopped for a lease (its database thread failed, and a
    sending thread went on retrying through an outage of Thulium) sent rows that another
    worker had taken over meanwhile, found nowhere in Thulium yet and sent too."""
    job = previewed(logged_in, sales, csv_bytes(people(4)))  # one batch
    assert import_confirm(job=job)
    wait, stalled = pushing._Pace.wait, []
    monkeypatch.setattr(pushing._Push, "beat_if_due", lambda push: None)
    monkeypatch.setattr(pushing._Pace, "wait",
                        lambda pace: (taken_over_once_stalled(job, stalled), wait(pace)))
    import_push(job.pk)

    assert sends(thulium) == Counter(phone for phone, *_ in people(4))
    ended_by_the_other_push(job, thulium)


@pytest.mark.parametrize(("lease", "renewed"), [(600, False), (1, True)])
def test_a_send_renews_its_rows_lease_only_when_a_call_could_outlast_it(
    logged_in, sales, thulium, monkeypatch, settings, lease, renewed
):
    """Rewriting each batch's rows before each step cost the benchmark's PostgreSQL 4 s of
    100,000 rows: a lease the heartbeat keeps far off cannot run out during a call."""
    settings.IMPORT_LEASE_SECONDS = lease
    job = previewed(logged_in, sales, csv_bytes(people(4)))  # one batch
    assert import_confirm(job=job)
    held, seen = pushing._Push.still_held, []

    def watched(push, row_ids):
        rows = ImportRow.objects.filter(pk__in=row_ids).order_by("pk")
        before = list(rows.values_list("lease_until", flat=True))
        kept = held(push, row_ids)
        seen.append((kept == set(row_ids), list(rows.values_list("lease_until", flat=True))
                     != before))
        return kept

    monkeypatch.setattr(pushing._Push, "beat_if_due", lambda push: None)
    monkeypatch.setattr(pushing._Push, "still_held", watched)
    import_push(job.pk)

    assert seen and all(kept for kept, _ in seen)
    assert {changed for _, changed in seen} == {renewed}
    assert sends(thulium) == Counter(phone for phone, *_ in people(4))


def test_rows_another_push_took_over_during_a_retry_s_wait_are_not_checked_again(
    logged_in, sales, thulium, monkeypatch
):
    """Nor were they checked, nor a new send begun, by the stalled push after its wait: it
    would leave a send begun and never made, and steps after the other push's."""
    thulium.state.fail_next("timeout", path=BATCH, apply=False, delay=0.1)
    job = previewed(logged_in, sales, csv_bytes(people(4)))  # one batch, its answer lost
    assert import_confirm(job=job)
    unpaused, stalled = pushing._Pace.unpaused, []

    def stalled_in_the_retry(pace):
        # Waited for before each send too: the retry's, once the lost send is stored.
        if Entry.objects.filter(outcome=Outcome.UNKNOWN).exists():
            taken_over_once_stalled(job, stalled)
        unpaused(pace)

    monkeypatch.setattr(pushing._Push, "beat_if_due", lambda push: None)
    monkeypatch.setattr(pushing._Pace, "unpaused", stalled_in_the_retry)
    import_push(job.pk)

    ended_by_the_other_push(job, thulium)
    listings = [call for call in api_calls(thulium, "GET") if call["path"].startswith(SINGLE)]
    assert len(listings) == 1  # the other push's
