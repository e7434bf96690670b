"""Pushing an import to the sandbox: each row once, retries where they may help, a receipt."""

import csv
import io
import threading
import time
from collections import Counter
from datetime import timedelta
from itertools import count

import phonenumbers
import psycopg
import pytest
import requests
from django.contrib.auth.models import Group, User
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from audit.models import AppendOnlyError, Entry, Outcome
from audit.recording import entry_complete, outcome_values
from audit.verify import verify_chain
from imports import progress, pushing, sending, services
from imports.models import ImportAttempt, ImportJob, ImportRow, RowState
from imports.pushing import import_push
from imports.services import import_cancel, import_confirm
from imports.shutdown import worker_stopping
from portal.thulium import ThuliumClient
from records.models import AddedRecord
from records.services import record_add_begin_all, record_add_complete_all
from tests.conftest import AUDITORS, LATE, LOADERS, api_calls, make_user, records_sent
from tests.db_threads import closing
from tests.import_files import csv_bytes, people, previewed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick_retries(settings):
    # One POST per row here; batches have their own tests (test_import_batches).
    settings.IMPORT_BATCH_SIZE = 1
    settings.IMPORT_RETRY_WAIT = 0.01
    settings.IMPORT_RETRY_MAX_WAIT = 0.05
    settings.IMPORT_HEARTBEAT_SECONDS = 0.2
    settings.IMPORT_CONCURRENCY = 4


@pytest.fixture
def sales(campaigns):
    return campaigns["00001"]


def confirmed(client, campaign, rows) -> ImportJob:
    job = previewed(client, campaign, csv_bytes(rows))
    assert import_confirm(job=job)
    return job


def posts_by_phone(sandbox):
    return Counter(record["phone_number"] for record in records_sent(sandbox))


def states(job):
    return dict(ImportRow.objects.filter(job=job).values_list("number", "state"))


def sends_of(row) -> list[Entry]:
    """The audit entries of the row's sends, oldest first."""
    return [attempt.entry for attempt in row.attempts.order_by("entry__created_at", "pk")]


def test_a_number_two_imports_send_together_stays_known_as_added(logged_in, sales, thulium,
                                                                monkeypatch):
    """The second import's send began while the first's was in flight, pointing the number
    at itself; Thulium refused it as a duplicate, which took the number away, and the
    first's success then had nothing to mark: a later file offered the number as new.
    (Both previewed, then confirmed as if the confirmations crossed: one sets apart a
    number another import waits to send, imports.elsewhere.)"""
    first, second = (previewed(logged_in, sales, csv_bytes(people(1))) for _import in range(2))
    monkeypatch.setattr(services, "rows_taken_since_preview_set_apart", lambda job: 0)
    for job in (first, second):
        assert import_confirm(job=job)
    post, calls = sending.record_add_post, []

    def first_lands_then_the_second_is_sent(*args, **kwargs):
        record_id = post(*args, **kwargs)
        if not calls:
            calls.append(1)
            other = threading.Thread(target=closing(lambda: import_push(second.pk)))
            other.start()
            other.join(60)
        return record_id

    monkeypatch.setattr(sending, "record_add_post", first_lands_then_the_second_is_sent)
    import_push(first.pk)
    assert states(first) == {2: RowState.ADDED}
    assert states(second) == {2: RowState.REFUSED}
    added = AddedRecord.objects.get()
    assert (added.status, added.record_id) == (AddedRecord.Status.ADDED,
                                              str(thulium.state.records("00001")[0]["record_id"]))
    again = previewed(logged_in, sales, csv_bytes(people(1)))
    assert states(again) == {2: RowState.ALREADY_ADDED}


def test_every_valid_row_is_sent_once_and_linked_to_its_audit_row(logged_in, sales, thulium):
    rows = people(30) + [["12", "zły", "numer", ""]]
    job = confirmed(logged_in, sales, rows)
    import_push(job.pk)
    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE
    assert posts_by_phone(thulium) == Counter({str(601000000 + n): 1 for n in range(30)})
    assert sorted(r["phone_number"] for r in thulium.state.records("00001")) == sorted(
        str(601000000 + n) for n in range(30))
    assert Counter(states(job).values()) == {RowState.ADDED: 30, RowState.INVALID: 1}
    row = ImportRow.objects.get(job=job, number=2)
    addition = ImportAttempt.objects.get(row=row).entry
    assert (addition.kind, addition.outcome, addition.sent["phone_number"]) == (
        "record-addition", Outcome.SUCCEEDED, "601000000")
    assert row.last_send() == addition and addition.results["record_id"] != ""
    linked = ImportAttempt.objects.filter(row__job=job).values("entry")
    assert Entry.objects.filter(kind="record-addition", pk__in=linked).count() == 30
    assert AddedRecord.objects.filter(campaign=sales, status=AddedRecord.Status.ADDED,
                                      entry__in=linked).count() == 30
    page = logged_in.get(addition.get_absolute_url()).content.decode()
    assert f'Sent by the import of <a href="{job.get_absolute_url()}">leady.csv</a>' in page
    receipt = job.receipt
    assert receipt.kind == "import"
    assert (receipt.results["rows_total"], receipt.results["added"],
            receipt.results["rows_invalid"], receipt.results["result"]) == (31, 30, 1, "done")
    assert receipt.outcome == Outcome.SUCCEEDED
    assert receipt.sent["file_sha256"] == job.file_sha256 and len(job.file_sha256) == 64
    assert receipt.sent["mapping"]["Telefon"] == "phone_number"
    assert not hasattr(ImportJob.objects.get(pk=job.pk), "upload")  # the bytes are dropped


@pytest.mark.parametrize(("batch_size", "posts"), [(1, 6), (5, 2)])
def test_a_push_parses_no_number_its_rows_keyed_already(logged_in, sales, thulium, settings,
                                                        monkeypatch, batch_size, posts):
    """Each row keeps its number's key from the preview; parsing the numbers again, when
    their outcomes were stored, took a thirteenth of the push's busiest thread."""
    settings.IMPORT_BATCH_SIZE = batch_size
    job = confirmed(logged_in, sales, people(5))
    thulium.state.fail_next("http_503")  # a failed try's outcomes are stored too
    parsed = []
    parse = phonenumbers.parse
    monkeypatch.setattr(phonenumbers, "parse", lambda *args: parsed.append(args) or parse(*args))

    import_push(job.pk)

    assert Counter(states(job).values()) == {RowState.ADDED: 5}
    assert len(api_calls(thulium, "POST")) == posts
    assert parsed == []


def test_a_refusal_is_final_and_not_retried(logged_in, sales, thulium):
    job = confirmed(logged_in, sales, people(1))
    thulium.state.fail_next("refuse", path="/api/outbounds/00001/records")
    import_push(job.pk)
    row = ImportRow.objects.get(job=job)
    assert row.state == RowState.REFUSED
    assert row.last_send().messages == ["Sandbox: refused on request."]
    assert row.last_send().request_id
    assert len(api_calls(thulium, "POST")) == 1


def test_a_number_already_in_thulium_is_refused_not_added_earlier(logged_in, sales, thulium):
    requests.post(f"{thulium.url}/outbounds/00001/records", json={"phone_number": "601000000"},
                  auth=(thulium.user, thulium.password), timeout=5)
    job = confirmed(logged_in, sales, people(1))
    import_push(job.pk)
    row = ImportRow.objects.get(job=job)
    assert row.state == RowState.REFUSED
    assert row.last_send().messages == ["Phone number already exists in the campaign."]


def test_server_errors_are_retried_with_an_audit_row_per_send(logged_in, sales, thulium):
    job = confirmed(logged_in, sales, people(1))
    thulium.state.fail_next("http_503", times=2)
    import_push(job.pk)
    row = ImportRow.objects.get(job=job)
    assert row.state == RowState.ADDED
    assert len(api_calls(thulium, "POST")) == 3
    assert [entry.outcome for entry in sends_of(row)] == [
        Outcome.FAILED, Outcome.FAILED, Outcome.SUCCEEDED]


def test_retries_stop_after_the_configured_attempts(logged_in, sales, thulium, settings):
    settings.IMPORT_RETRY_ATTEMPTS = 3
    job = confirmed(logged_in, sales, people(1))
    thulium.state.fail_next("http_502", times=5)
    import_push(job.pk)
    row = ImportRow.objects.get(job=job)
    assert (row.state, row.attempts.count()) == (RowState.FAILED, 3)
    assert row.last_send().detail.startswith("HTTP 502")
    assert ImportJob.objects.get(pk=job.pk).receipt.results["failed"] == 1


def test_an_unanswered_send_is_found_in_thulium_and_not_sent_again(logged_in, sales, thulium):
    job = confirmed(logged_in, sales, people(2))
    # Thulium stores the first record but its answer comes after the portal gave up; the
    # push's lookup is answered only once it is stored, though the sandbox stalled.
    thulium.state.fail_next("timeout", delay=LATE, path="/api/outbounds/", method="POST",
                            first=True)
    import_push(job.pk)
    assert Counter(states(job).values()) == {RowState.ADDED: 2}
    assert posts_by_phone(thulium) == {"601000000": 1, "601000001": 1}
    check = Entry.objects.get(kind="record-check")  # the row whose answer was lost
    row = ImportAttempt.objects.get(entry=check).row
    lost, checked = sends_of(row)
    assert checked == check
    assert (lost.kind, lost.outcome, check.kind, check.related) == (
        "record-addition", Outcome.UNKNOWN, "record-check", lost)
    stored = {r["phone_number"]: str(r["record_id"]) for r in thulium.state.records("00001")}
    assert check.results == {"found": True, "record_id": stored[row.phone_number]}
    assert row.last_send() == check
    # The portal knows the number is in the campaign: a later file flags it as added.
    assert AddedRecord.objects.get(campaign=sales, phone_key=row.phone_key).status == (
        AddedRecord.Status.ADDED)
    assert verify_chain().problem == ""


def test_a_duplicate_refusal_after_an_unanswered_send_counts_as_added_earlier(
    logged_in, sales, thulium
):
    """Thulium's list may not show the record (here: its clock says two days ago, before
    the listing's first day even just after midnight), so it is sent again; its refusal as
    a duplicate, in Polish too, tells the first send landed."""
    logged_in.post(reverse("set_language"), {"language": "pl"})
    job = confirmed(logged_in, sales, people(1))
    assert job.language == "pl"
    thulium.state.set_now(timezone.now() - timedelta(days=2))
    thulium.state.fail_next("timeout", delay=LATE, path="/api/outbounds/", method="POST",
                            first=True)  # stored before the lookup, and the second send
    import_push(job.pk)
    row = ImportRow.objects.get(job=job)
    assert row.state == RowState.ADDED_EARLIER
    assert row.last_send().messages == ["Numer telefonu już istnieje w kampanii."]
    assert [(step.kind, step.outcome) for step in sends_of(row)] == [
        ("record-addition", Outcome.UNKNOWN), ("record-check", Outcome.SUCCEEDED),
        ("record-addition", Outcome.REFUSED)]
    assert api_calls(thulium, "POST")[-1]["accept_language"] == "pl"
    assert ImportJob.objects.get(pk=job.pk).receipt.results["added_earlier"] == 1
    assert AddedRecord.objects.get(campaign=sales, phone_key=row.phone_key).status == (
        AddedRecord.Status.ADDED)


def test_a_broken_connection_is_retried_and_added(logged_in, sales, thulium):
    job = confirmed(logged_in, sales, people(1))
    thulium.state.fail_next("reset")  # nothing stored: the retry adds the record
    import_push(job.pk)
    row = ImportRow.objects.get(job=job)
    assert row.state == RowState.ADDED
    # The connection broke after sending: Thulium is asked before the row goes again.
    assert [(step.kind, step.outcome, step.results) for step in sends_of(row)] == [
        ("record-addition", Outcome.UNKNOWN, {}),
        ("record-check", Outcome.SUCCEEDED, {"found": False}),
        ("record-addition", Outcome.SUCCEEDED, {"record_id": "231"})]


def test_refused_credentials_stop_the_import_and_leave_the_rest_unsent(
    logged_in, sales, thulium, settings
):
    job = confirmed(logged_in, sales, people(40))
    settings.THULIUM_API_PASSWORD = "wrong"
    import_push(job.pk)
    job.refresh_from_db()
    assert job.state == ImportJob.State.STOPPED
    assert job.stop_reason.startswith(
        "Thulium did not accept the portal's API credentials (HTTP 401, request id ")
    # Not Thulium's words, which could repeat a record's, kept where no erasure reaches.
    assert "Unauthorized" not in job.stop_reason
    counts = Counter(states(job).values())
    assert counts[RowState.FAILED] == len(api_calls(thulium, "POST")) <= 4
    assert counts[RowState.FAILED] + counts[RowState.NOT_SENT] == 40
    assert (job.receipt.results["result"], job.receipt.outcome) == ("stopped", Outcome.REFUSED)
    assert job.receipt.detail == job.stop_reason


def test_requests_in_flight_never_exceed_the_concurrency(
    logged_in, sales, thulium, settings, monkeypatch
):
    settings.IMPORT_CONCURRENCY = 3
    thulium.state.latency = 0.05
    job = confirmed(logged_in, sales, people(24))
    add_record = ThuliumClient.add_record
    lock, counts = threading.Lock(), {"now": 0, "peak": 0}

    def counted(client, campaign_id, record):
        """The real call, counting the calls under way at once."""
        with lock:
            counts["now"] += 1
            counts["peak"] = max(counts["peak"], counts["now"])
        try:
            return add_record(client, campaign_id, record)
        finally:
            with lock:
                counts["now"] -= 1

    monkeypatch.setattr(ThuliumClient, "add_record", counted)
    # No answer until three are in flight: whether two ever overlapped was the scheduler's.
    thulium.state.gather(3)
    import_push(job.pk)
    assert thulium.state.gathered and counts["peak"] == 3
    assert len(api_calls(thulium, "POST")) == 24


def test_the_pace_spaces_sends_by_the_rate_limit(monkeypatch):
    clock = {"now": 100.0}
    slept = []
    monkeypatch.setattr(pushing.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(pushing.time, "sleep", slept.append)
    pace = pushing._Pace(per_second=4, stopping=threading.Event())
    for _ in range(3):
        pace.wait()
    clock["now"] += 2.0  # a quiet spell does not build up a burst
    pace.wait()
    pace.wait()
    assert slept == [0.0, 0.25, 0.5, 0.0, 0.25]


def test_a_pause_holds_every_send_of_the_push_until_it_ends_or_the_push_stops(monkeypatch):
    clock = {"now": 100.0}
    waited = []
    monkeypatch.setattr(pushing.time, "monotonic", lambda: clock["now"])
    stopping = threading.Event()
    monkeypatch.setattr(stopping, "wait", waited.append)
    pace = pushing._Pace(per_second=0, stopping=stopping)
    pace.pause(60)
    pace.pause(30)  # a shorter one asked meanwhile does not shorten it
    pace.wait()
    clock["now"] += 45
    pace.wait()
    clock["now"] += 15
    pace.wait()
    assert waited == [60, 15]


def test_a_dead_workers_rows_are_settled_from_their_audit_rows(logged_in, sales, thulium, user):
    """Rows a killed worker held: accepted ones are never resent, unanswered ones are found
    in Thulium first."""
    job = confirmed(logged_in, sales, people(4))
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING)
    rows = {row.number: row for row in ImportRow.objects.filter(job=job)}
    expired = timezone.now() - timedelta(minutes=5)
    ImportRow.objects.filter(job=job).update(
        state=RowState.SENDING, claimed_by="dead-worker-0", lease_until=expired)

    def attempt(row, outcome, **completion):
        (addition,) = record_add_begin_all(campaign=sales, payloads=[row.payload], actor=user)
        if outcome != Outcome.PENDING:
            record_add_complete_all([(addition, outcome_values(outcome=outcome, **completion))])
        ImportAttempt.objects.create(row=row, entry=addition)
        return addition

    # Row 2: sent and stored by Thulium, killed before the answer was recorded.
    requests.post(f"{thulium.url}/outbounds/00001/records", json=rows[2].payload,
                  auth=(thulium.user, thulium.password), timeout=5)
    cut_off = attempt(rows[2], Outcome.PENDING)
    # Row 3: Thulium's acceptance was recorded, the row's own state was not.
    attempt(rows[3], Outcome.SUCCEEDED, results={"record_id": "777"}, request_id="")
    # Row 4: refused, recorded in the audit only.
    attempt(rows[4], Outcome.REFUSED, messages=["Wrong format of phone number."])
    # Row 5: claimed but never sent.
    already_received = len(api_calls(thulium, "POST"))

    import_push(job.pk)

    by_number = {row.number: row for row in ImportRow.objects.filter(job=job)}
    assert by_number[2].state == RowState.ADDED
    assert by_number[2].last_send().kind == "record-check"
    assert (by_number[3].state, by_number[3].last_send().results["record_id"]) == (
        RowState.ADDED, "777")
    assert by_number[4].state == RowState.REFUSED
    assert by_number[5].state == RowState.ADDED
    resent = [c["json"]["phone_number"] for c in api_calls(thulium, "POST")[already_received:]]
    assert resent == ["601000003"]
    cut_off.refresh_from_db()
    assert cut_off.outcome == Outcome.UNKNOWN
    assert "stopped before Thulium's answer was recorded" in cut_off.detail


def test_a_worker_whose_clock_runs_ahead_leaves_a_live_workers_rows_alone(
        logged_in, sales, thulium, monkeypatch):
    """Leases were written and compared in each worker's own clock: one whose clock ran a
    lease ahead took over the rows another was sending, and sent them again."""
    job = confirmed(logged_in, sales, people(6))
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING)
    held = ImportRow.objects.filter(job=job, number__lte=3)
    held.update(state=RowState.SENDING, claimed_by="live-worker",
                lease_until=timezone.now() + pushing.lease_duration())
    held_phones = {row.payload["phone_number"] for row in held}
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + 2 * pushing.lease_duration())
    push = threading.Thread(target=closing(lambda: import_push(job.pk)))
    push.start()
    others = ImportRow.objects.filter(job=job, number__gt=3)
    deadline = time.monotonic() + 30
    while others.exclude(state=RowState.ADDED).exists() and time.monotonic() < deadline:
        push.join(0.05)

    assert set(held.values_list("claimed_by", flat=True)) == {"live-worker"}
    held.update(state=RowState.ADDED, claimed_by="", lease_until=None)  # the live one's end
    push.join(30)
    assert not push.is_alive()
    assert set(posts_by_phone(thulium)) == {row.payload["phone_number"] for row in others}
    assert not held_phones & set(posts_by_phone(thulium))


def test_rows_leave_their_claim_with_a_whole_lease_however_long_it_took(
        logged_in, sales, thulium, monkeypatch):
    """The lease was counted from the claim's start: a claim lasting longer than a lease
    (under load, or reading thousands of a dead worker's rows) handed its rows to the
    sending threads with their lease run out, for another worker to take over and send
    again while this one sent them."""
    job = confirmed(logged_in, sales, people(3))
    begin, batches = pushing.sends_begin, pushing._batches
    claim_ends, leases = [], []

    def beginning(job, rows):
        begin(job, rows)
        claim_ends.append(pushing.database_now(job.pk))  # the claim's last step

    def handed_to_the_senders(rows, size):
        leases.extend(ImportRow.objects.filter(pk__in=[pending.row.pk for pending in rows])
                      .values_list("lease_until", flat=True))
        return batches(rows, size)

    monkeypatch.setattr(pushing, "sends_begin", beginning)
    monkeypatch.setattr(pushing, "_batches", handed_to_the_senders)
    import_push(job.pk)

    assert len(claim_ends) == 1 and len(leases) == 3
    assert min(leases) >= claim_ends[0] + pushing.lease_duration()
    assert set(states(job).values()) == {RowState.ADDED}


def test_a_push_whose_outcomes_cannot_be_stored_fails_and_loses_no_row(
        logged_in, sales, thulium, monkeypatch):
    """The storing thread fails (the database went away): the push fails with it, no row is
    marked unsent, and the next push settles the rows it sent without sending them again."""
    job = confirmed(logged_in, sales, people(6))

    def database_gone(completions, **_keys):
        raise DatabaseError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr(pushing, "record_add_complete_all", database_gone)
        with pytest.raises(DatabaseError, match="went away"):
            import_push(job.pk)
    assert set(states(job).values()) <= {RowState.QUEUED, RowState.SENDING}
    sent_once = posts_by_phone(thulium)
    assert sent_once and set(sent_once.values()) == {1}
    ImportRow.objects.filter(job=job, state=RowState.SENDING).update(
        lease_until=timezone.now() - timedelta(minutes=5))

    import_push(job.pk)

    assert set(states(job).values()) == {RowState.ADDED}
    assert set(posts_by_phone(thulium).values()) == {1}
    assert len(posts_by_phone(thulium)) == 6


def test_a_worker_with_nothing_left_to_claim_waits_for_its_sends(
    logged_in, sales, thulium, settings, monkeypatch
):
    settings.IMPORT_HEARTBEAT_SECONDS = 30  # no wake-up by the heartbeat meanwhile
    thulium.state.latency = 0.3
    job = confirmed(logged_in, sales, people(2))
    looks = []
    queued = pushing._Push.queued
    monkeypatch.setattr(pushing._Push, "queued",
                        lambda push, count: looks.append(count) or queued(push, count))

    import_push(job.pk)

    # The claim; then a look after it (twice: past the last row claimed, then from the
    # first row) and one after each stored batch, whether the two are stored together or
    # apart (5 with one sending thread), however long Thulium takes. Asking again at once
    # would ask hundreds of times.
    sends = 2
    assert len(looks) <= 1 + 2 + sends
    assert set(states(job).values()) == {RowState.ADDED}


def test_the_heartbeat_steps_over_rows_being_stored_instead_of_waiting_for_them(
    logged_in, sales
):
    # The storing thread's UPDATE and the heartbeat's lock the same rows in their own
    # orders: waiting for each other, PostgreSQL failed one of them, and the push with it.
    if connection.vendor != "postgresql":
        pytest.skip("row locks: SQLite runs one writer at a time")
    job = confirmed(logged_in, sales, people(2))
    push = pushing._Push(job)
    long_ago = timezone.now() - timedelta(minutes=5)
    ImportRow.objects.filter(job=job).update(state=RowState.SENDING, claimed_by=push.worker,
                                             lease_until=long_ago)
    being_stored, other = ImportRow.objects.filter(job=job).order_by("number")
    storing = psycopg.connect(**connection.get_connection_params())
    try:
        storing.execute("UPDATE imports_importrow SET finished_at = now() WHERE id = %s",
                        [being_stored.pk])
        with connection.cursor() as cursor:  # a wait fails the test instead of hanging it
            cursor.execute("SET lock_timeout = '5s'")
        push.beat_if_due()
    finally:
        storing.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

    being_stored.refresh_from_db()
    other.refresh_from_db()
    assert being_stored.lease_until == long_ago
    assert other.lease_until > timezone.now()


def test_a_push_whose_worker_is_asked_to_stop_hands_its_rows_back_to_be_sent_once(
        logged_in, sales, thulium, settings, monkeypatch):
    """On SIGTERM (imports.shutdown) the push ends its call in flight and gives its rows
    back: one Thulium may hold from that call is asked about before it is sent again."""
    settings.IMPORT_CONCURRENCY = 1
    job = confirmed(logged_in, sales, people(5))
    post = sending.record_add_post
    posts = []

    def stopped_meanwhile(entry, **kwargs):
        posts.append(entry)
        if len(posts) == 1:
            worker_stopping.set()
            thulium.state.fail_next("timeout", delay=LATE)  # Thulium adds it; its answer is lost
        return post(entry, **kwargs)

    monkeypatch.setattr(sending, "record_add_post", stopped_meanwhile)
    try:
        import_push(job.pk)
    finally:
        worker_stopping.clear()
    assert Counter(states(job).values()) == {RowState.SENDING: 1, RowState.QUEUED: 4}
    assert not Entry.objects.filter(outcome=Outcome.PENDING).exists()
    assert thulium.state.wait_timed_out()  # stored before the next worker asks, however late

    import_push(job.pk)  # another worker's

    assert set(states(job).values()) == {RowState.ADDED}
    assert posts_by_phone(thulium) == Counter({phone: 1 for phone, *_ in people(5)})
    assert Entry.objects.filter(kind="record-check", results__found=True).count() == 1


def test_a_waiting_import_is_cancelled_at_once(logged_in, sales, thulium):
    job = confirmed(logged_in, sales, people(5))
    response = logged_in.post(reverse("imports:cancel", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.state == ImportJob.State.CANCELLED
    assert job.receipt.results["not_sent"] == 5
    import_push(job.pk)  # a worker coming later sends nothing
    assert api_calls(thulium, "POST") == []


def test_a_running_import_stops_sending_when_cancelled(logged_in, sales, thulium,
                                                       monkeypatch):
    """The user cancels once ten rows went out, the sends after them waiting for it. The
    test's own cancel, made once it saw ten records, came after the last row went out if a
    loaded machine stalled it for the push's 2.5 s (Thulium answering in 0.05 s)."""
    job = confirmed(logged_in, sales, people(200))
    post, posts, cancelled = sending.record_add_post, count(1), threading.Event()

    def cancelled_once_ten_went_out(*args, **kwargs):
        number = next(posts)
        if number > 10:
            assert cancelled.wait(30)
        record_id = post(*args, **kwargs)
        if number == 10:
            import_cancel(job=ImportJob.objects.get(pk=job.pk))
            cancelled.set()
        return record_id

    monkeypatch.setattr(sending, "record_add_post", cancelled_once_ten_went_out)
    import_push(job.pk)
    job.refresh_from_db()
    assert job.state == ImportJob.State.CANCELLED
    counts = Counter(states(job).values())
    assert counts[RowState.ADDED] == len(thulium.state.records("00001")) >= 10
    assert counts[RowState.NOT_SENT] > 0
    assert counts[RowState.ADDED] + counts[RowState.NOT_SENT] == 200
    assert (job.receipt.results["result"], job.receipt.outcome) == (
        "cancelled", Outcome.FAILED)


def cancelled_at_the_first_batch(job, monkeypatch) -> None:
    """The user cancels the import while its first batch goes to Thulium."""
    post = sending.record_add_post_batch

    def cancelled_meanwhile(entries, **kwargs):
        import_cancel(job=ImportJob.objects.get(pk=job.pk))
        return post(entries, **kwargs)

    monkeypatch.setattr(sending, "record_add_post_batch", cancelled_meanwhile)


def test_a_cancel_that_came_once_every_row_had_gone_out_leaves_the_import_done(
    logged_in, sales, thulium, monkeypatch, settings
):
    """It stopped nothing, yet the import read "cancelled", its e-mail "cancelled before its
    end", with every row added."""
    settings.IMPORT_BATCH_SIZE = 100
    job = confirmed(logged_in, sales, people(5))  # one batch
    cancelled_at_the_first_batch(job, monkeypatch)
    import_push(job.pk)

    job.refresh_from_db()
    assert set(states(job).values()) == {RowState.ADDED}
    assert (job.state, job.receipt.results["result"]) == (ImportJob.State.DONE, "done")


def test_a_cancel_that_cut_retries_short_cancels_the_import_and_leaves_its_rows_unsent(
    logged_in, sales, thulium, monkeypatch, settings
):
    """Cancelled while its only batch waited to be tried again, the import read "done",
    each row "failed", though the cancel, not Thulium, kept them out."""
    settings.IMPORT_BATCH_SIZE = 100
    settings.IMPORT_RETRY_WAIT, settings.IMPORT_RETRY_MAX_WAIT = 30, 30  # cut short
    thulium.state.fail_next("http_503", times=100, path="/api/batch/")
    job = confirmed(logged_in, sales, people(10))  # one batch, claimed before the cancel
    cancelled_at_the_first_batch(job, monkeypatch)
    import_push(job.pk)

    job.refresh_from_db()
    assert len(api_calls(thulium, "POST")) == 1
    assert set(states(job).values()) == {RowState.NOT_SENT}
    assert (job.state, job.receipt.results["result"]) == (ImportJob.State.CANCELLED,
                                                          "cancelled")
    assert job.receipt.results["not_sent"] == 10


def test_a_cancel_is_heard_before_the_next_heartbeat(
    logged_in, sales, thulium, settings, monkeypatch
):
    """Heard only at a heartbeat (5 s by default), a cancel let thousands of rows go on.
    Heard before the next claim, it lets only the batches claimed before it go: 3 a
    sending thread."""
    settings.IMPORT_HEARTBEAT_SECONDS = 60
    settings.IMPORT_BATCH_SIZE, settings.IMPORT_CONCURRENCY = 10, 2
    job = confirmed(logged_in, sales, people(1000))
    cancelled_at_the_first_batch(job, monkeypatch)
    import_push(job.pk)
    counts = Counter(states(ImportJob.objects.get(pk=job.pk)).values())
    assert counts[RowState.ADDED] <= 3 * 2 * 10 and counts[RowState.NOT_SENT] >= 940


def let_go(user, how: str) -> None:
    """A team lead lets the loader go: turns their account off, takes their Record loaders
    role away, or deletes the account."""
    if how == "turned off":
        User.objects.filter(pk=user.pk).update(is_active=False)
    elif how == "role taken":
        user.groups.remove(Group.objects.get(name=LOADERS))
    else:
        User.objects.filter(pk=user.pk).delete()


LOADER_GONE = ("The rest was not sent: the account of the one who loaded the import was "
               "deactivated or deleted, or may no longer add records.")


@pytest.mark.parametrize("how", ["turned off", "role taken", "deleted"])
def test_an_import_of_a_loader_let_go_is_stopped_and_not_sent(logged_in, user, sales, thulium,
                                                              how):
    """Their confirmed import was sent in full by the worker; a deleted loader's entries
    named no one."""
    job = confirmed(logged_in, sales, people(5))
    let_go(user, how)
    import_push(job.pk)

    job.refresh_from_db()
    assert api_calls(thulium, "POST") == []
    assert set(states(job).values()) == {RowState.NOT_SENT}
    assert (job.state, job.stop_reason) == (ImportJob.State.STOPPED, LOADER_GONE)
    assert (job.receipt.results["result"], job.receipt.detail) == ("stopped", LOADER_GONE)
    assert job.receipt.actor_username == "manager"
    stop = Entry.objects.get(kind="import-stopped")
    assert (stop.actor_id, stop.actor_username, stop.outcome, stop.detail) == (
        None, "run_worker", Outcome.SUCCEEDED, LOADER_GONE)
    assert (stop.details["job"], stop.details["loader"]) == (job.pk, "manager")
    assert stop.begin_seq < job.receipt.begin_seq
    logged_in.force_login(make_user("auditor", AUDITORS))
    assert LOADER_GONE in logged_in.get(job.get_absolute_url()).content.decode()
    with translation.override("pl"):
        entry_page = logged_in.get(stop.get_absolute_url()).content.decode()
    assert 'data-testid="loader">manager</dd>' in entry_page
    timeline = logged_in.get(reverse("audit:timeline"), {"kind": "import-stopped"})
    assert ("import of leady.csv stopped: manager may no longer add records"
            in timeline.content.decode())


def test_a_loader_deleted_while_their_import_is_sent_stops_it_after_the_rows_in_flight(
    logged_in, user, sales, thulium, monkeypatch, settings
):
    """The rows in flight end as sent, their entries naming the loader; the rest is not
    sent, as after a cancel."""
    settings.IMPORT_HEARTBEAT_SECONDS = 60  # heard at the next claim
    settings.IMPORT_BATCH_SIZE, settings.IMPORT_CONCURRENCY = 10, 2
    job = confirmed(logged_in, sales, people(1000))
    post = sending.record_add_post_batch

    def deleted_meanwhile(entries, **kwargs):
        User.objects.filter(pk=user.pk).delete()
        return post(entries, **kwargs)

    monkeypatch.setattr(sending, "record_add_post_batch", deleted_meanwhile)
    import_push(job.pk)

    job = ImportJob.objects.get(pk=job.pk)
    counts = Counter(states(job).values())
    assert 10 <= counts[RowState.ADDED] <= 3 * 2 * 10
    assert counts[RowState.ADDED] + counts[RowState.NOT_SENT] == 1000
    assert (job.state, job.stop_reason, job.actor) == (ImportJob.State.STOPPED, LOADER_GONE, None)
    sends = Entry.objects.filter(
        pk__in=ImportAttempt.objects.filter(row__job=job).values("entry"))
    assert set(sends.values_list("actor_username", flat=True)) == {"manager"}
    assert sends.filter(outcome=Outcome.SUCCEEDED).count() == counts[RowState.ADDED]
    assert Entry.objects.filter(kind="import-stopped").count() == 1


def test_the_sends_of_an_import_name_its_loader_once_their_account_is_deleted(
    logged_in, user, sales
):
    job = confirmed(logged_in, sales, people(1))
    User.objects.filter(pk=user.pk).delete()
    job = ImportJob.objects.select_related("campaign", "actor").get(pk=job.pk)
    row = ImportRow.objects.filter(job=job).values_list(*sending.CLAIMED_FIELDS).get()
    pending = sending.Pending(sending.ClaimedRow._make(row))
    sending.sends_begin(job, [pending])
    assert (pending.entry.actor_id, pending.entry.actor_username) == (None, "manager")


def test_the_receipt_cannot_be_changed_or_deleted(logged_in, sales):
    job = confirmed(logged_in, sales, people(1))
    import_push(job.pk)
    receipt = ImportJob.objects.get(pk=job.pk).receipt
    receipt.results = {**receipt.results, "added": 5}
    with pytest.raises(AppendOnlyError):
        receipt.save()
    with pytest.raises(AppendOnlyError):
        Entry.objects.filter(pk=receipt.pk).update(results={"added": 5})
    with pytest.raises(AppendOnlyError):
        receipt.delete()
    with pytest.raises(AppendOnlyError):
        Entry.objects.filter(kind="import").delete()
    with pytest.raises(AppendOnlyError):
        entry_complete(receipt, outcome=Outcome.FAILED, results={"result": "stopped"})
    stored = Entry.objects.get(kind="import")
    assert (stored.results["added"], stored.results["result"], stored.outcome) == (
        1, "done", Outcome.SUCCEEDED)
    assert not verify_chain().problem
    assert receipt.get_absolute_url() == reverse("audit:entry", args=[receipt.pk])


def test_the_report_lists_every_row_and_defuses_formulas(logged_in, sales, thulium):
    rows = [["+44 20 7946 0958", "Zofia", "Nowak", "Łódź"], ["12", "a", "b", "c"],
            ["=cmd|' /C calc'!A0", "a", "b", "c"], ["+1+cmd|' /C calc'!A0", "a", "b", "c"]]
    job = confirmed(logged_in, sales, rows)
    thulium.state.fail_next("refuse")
    import_push(job.pk)
    response = logged_in.get(reverse("imports:report", args=[job.pk]))
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeffrow;phone_number;outcome;record_id;message;request_id\r\n")
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    number, phone, outcome, record_id, message, request_id = lines[1]
    # A number with its plus stays text in a spreadsheet, every digit kept.
    assert (number, phone, outcome, record_id) == ("2", "'+442079460958", "refused", "")
    assert (message, bool(request_id)) == ("Sandbox: refused on request.", True)
    assert lines[2][:3] == ["3", "12", "invalid"]
    assert lines[2][4].startswith("Phone number: Enter a phone number")
    assert [line[1] for line in lines[3:]] == ["'=cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"]


def test_progress_reaches_one_hundred_percent(logged_in, sales, thulium):
    job = confirmed(logged_in, sales, people(6))
    before = logged_in.get(reverse("imports:progress", args=[job.pk])).json()
    assert (before["state"], before["done"], before["total"], before["final"]) == (
        "queued", 0, 6, False)
    import_push(job.pk)
    after = logged_in.get(reverse("imports:progress", args=[job.pk])).json()
    assert (after["percent"], after["added"], after["final"]) == (100, 6, True)
    page = logged_in.get(job.get_absolute_url()).content.decode()
    assert "imports/progress.js" in page and job.file_sha256 in page


def test_a_running_import_s_counts_and_pace_are_shared_by_its_watchers_and_a_final_one_s_are_fresh(
    logged_in, sales, thulium, monkeypatch
):
    job = confirmed(logged_in, sales, people(4))
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING,
                                               started_at=timezone.now())
    ticks = iter([100.0, 101.0])  # counting the rows "took" a second: shared for ten
    monkeypatch.setattr(progress, "perf_counter", lambda: next(ticks))
    url = reverse("imports:progress", args=[job.pk])
    assert logged_in.get(url).json()["added"] == 0
    job.rows.update(state=RowState.ADDED)
    with CaptureQueriesContext(connection) as queries:
        # Another watcher: neither the rows nor the recent pace are counted again.
        assert logged_in.get(url).json()["added"] == 0
    assert not [query for query in queries if "COUNT(" in query["sql"].upper()]
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.DONE)
    assert logged_in.get(url).json()["added"] == 4  # final: counted afresh


def test_a_running_import_s_progress_is_counted_each_time_with_the_cache_down(
    logged_in, sales, cache_down
):
    """With Redis down its progress bar got 500s."""
    job = confirmed(logged_in, sales, people(2))
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING,
                                               started_at=timezone.now())
    url = reverse("imports:progress", args=[job.pk])
    assert logged_in.get(url).json()["added"] == 0
    job.rows.update(state=RowState.ADDED)
    assert logged_in.get(url).json()["added"] == 2


def test_the_pace_is_the_recent_one_while_running_and_the_whole_push_s_once_final(
    logged_in, sales, monkeypatch
):
    job = confirmed(logged_in, sales, people(6))
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)  # the window does not move under the test
    started = now - timedelta(minutes=5)
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING,
                                               started_at=started)
    rows = list(job.rows.order_by("number"))
    ImportRow.objects.filter(pk__in=[row.pk for row in rows[:4]]).update(
        state=RowState.ADDED, finished_at=started + timedelta(seconds=10))  # long ago
    ImportRow.objects.filter(pk=rows[4].pk).update(state=RowState.REFUSED, finished_at=now)
    running = progress.import_progress(ImportJob.objects.get(pk=job.pk))
    # One row in the last RATE_WINDOW (15 s): 0.07 a second, shown to a tenth; one left.
    assert running["rows_per_second"] == 0.1
    assert running["pace"] == "0.1"  # rounded as the figure is, not cut ("0.0")
    assert (running["seconds_left"], running["time_left"]) == (15, "under a minute")

    ImportRow.objects.filter(pk=rows[5].pk).update(state=RowState.NOT_SENT)
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.DONE,
                                               finished_at=started + timedelta(seconds=50))
    final = progress.import_progress(ImportJob.objects.get(pk=job.pk))
    assert final["rows_per_second"] == 0.1  # 5 rows sent in 50 s; the unsent one is not
    assert (final["seconds_left"], final["time_left"]) == (None, "—")
    # Shown as the reader's language writes it.
    assert final["pace"] == "0.1"
    with translation.override("pl"):
        assert progress.import_progress(ImportJob.objects.get(pk=job.pk))["pace"] == "0,1"


@pytest.mark.parametrize(("seconds", "english", "polish"), [
    (779, "about 13 min", "ok. 13 min"), (5000, "about 1 h 23 min", "ok. 1 godz. 23 min"),
    (59, "under a minute", "mniej niż minuta"),
])
def test_the_time_left_is_said_as_people_say_it(seconds, english, polish):
    """It was shown in seconds ("5000 s")."""
    assert progress.time_left_words(seconds) == english
    with translation.override("pl"):
        assert progress.time_left_words(seconds) == polish
