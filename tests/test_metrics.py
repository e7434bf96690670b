"""/metrics: Thulium calls, requests, imports, the audit chain and scheduled changes, for the
token's holder."""

import datetime
import logging
import re
import socket
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.utils import timezone

from audit.models import ChainCheck, ChainHead, Entry
from campaigns.due import due_changes_apply
from campaigns.models import ScheduledChange
from campaigns.scheduling import change_schedule, scheduled_change_cancel
from imports.models import ImportJob, RowState
from imports.previewing import import_check
from imports.pushing import import_push
from imports.services import import_confirm
from portal import db_deadline
from portal.metrics import state
from portal.thulium import ThuliumRefused, get_client
from records.services import AdditionUnconfirmed, record_add
from tests.audit_fixtures import change, tamper
from tests.conftest import skip_unless_postgresql
from tests.import_files import csv_bytes, people, previewed
from tests.scrapes import BEARER, TOKEN, label_values, samples, value
from tests.test_gateway import CraftedThulium
from tests.test_scheduling import (  # noqa: F401
    claimed_long_ago,
    sales,
    scheduled,
    unanswered_while_thulium_is_down,
)
from tests.test_unanswered_changes import begun_long_ago

ADD = "POST outbounds/:id/records"


@pytest.fixture(autouse=True)
def token(settings):
    settings.METRICS_TOKEN = TOKEN


def readers() -> list[threading.Thread]:
    """The threads reading the database for a scrape, given up on or not."""
    return [thread for thread in threading.enumerate()
            if thread.name == db_deadline.THREAD_NAME]


@pytest.fixture
def silent_database(db, monkeypatch):
    """The database's address taken by a server that takes connections and never answers,
    as a hung PostgreSQL or pgbouncer; the reads left waiting on it end with it."""
    skip_unless_postgresql(connection)
    monkeypatch.setattr(state, "READ_SECONDS", 0.5)  # nothing comes sooner or later
    with socket.create_server(("127.0.0.1", 0)) as silent:  # never accepts, never reads
        monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
        monkeypatch.setitem(connection.settings_dict, "PORT", silent.getsockname()[1])
        yield
    # Closed: the connections waiting in its queue are reset, and their reads fail.
    for reader in readers():
        reader.join()


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics", headers={"Authorization": BEARER})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return samples(response.content.decode())


def outcomes_counted(before, after, endpoint: str) -> dict[str, float]:
    """{outcome: calls} to `endpoint` counted between two scrapes."""
    grown = {}
    for (name, labels), count in after.items():
        labels = dict(labels)
        if name == "portal_thulium_calls_total" and labels["endpoint"] == endpoint:
            grown[labels["outcome"]] = count - value(before, name, **labels)
    return {outcome: calls for outcome, calls in grown.items() if calls}


def outcomes_logged(caplog, path: str) -> list[str]:
    """The outcome of each gateway log line of a call to `path` (e.g. "outbounds")."""
    return [record.outcome for record in caplog.records
            if record.name == "portal.thulium" and getattr(record, "path", None) == path]


def test_thulium_calls_are_counted_by_endpoint_template_and_outcome(client, campaigns, thulium):
    before = scrape(client)
    gateway = get_client()
    gateway.add_record("00001", {"phone_number": "601234567"})
    thulium.state.fail_next("refuse", path="/api/outbounds/A7K2Q/records")
    with pytest.raises(ThuliumRefused):
        gateway.add_record("A7K2Q", {"phone_number": "601234568"})
    gateway.get_statuses("00002")

    after = scrape(client)

    def counted(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert counted("portal_thulium_calls_total", endpoint=ADD, outcome="succeeded") == 1
    assert counted("portal_thulium_calls_total", endpoint=ADD, outcome="refused") == 1
    assert counted("portal_thulium_calls_total", endpoint="GET outbounds/:id/statuses",
                   outcome="succeeded") == 1
    assert counted("portal_thulium_call_duration_seconds_count", endpoint=ADD) == 2
    assert counted("portal_thulium_call_duration_seconds_bucket", endpoint=ADD, le="+Inf") == 2
    # Templates only: no campaign id, number or name becomes a label.
    assert all(re.fullmatch(r"(GET|POST|PUT) [a-z/]+(/:id[a-z/]*)?", endpoint)
               for endpoint in label_values(after, "endpoint"))


def test_requests_are_counted_by_view_name_and_never_by_path(logged_in, campaigns):
    before = scrape(logged_in)
    assert logged_in.get("/campaigns/00001/").status_code == 200
    assert logged_in.get("/no/such/page/601234567/").status_code == 404
    logged_in.generic("BREW", "/campaigns/sync/")
    # Served by WhiteNoise once collected (not in a clean checkout): counted either way.
    styles = logged_in.get("/static/vendor/bootstrap/bootstrap.min.css").status_code

    after = scrape(logged_in)

    def counted(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert counted("portal_requests_total", view="campaigns:detail", method="GET",
                   status="200") == 1
    assert counted("portal_request_duration_seconds_count", view="campaigns:detail") == 1
    assert counted("portal_requests_total", view="unresolved", method="GET", status="404") == 1
    assert counted("portal_requests_total", view="static", method="GET",
                   status=str(styles)) == 1
    assert counted("portal_requests_total", view="campaigns:sync", method="other",
                   status="405") == 1
    # Scrapes answer before views are counted: they are no view's requests.
    assert not any("metrics" in view for view in label_values(after, "view"))


def test_a_scrape_with_the_database_down_keeps_this_process_s_counters(
        client, campaigns, thulium, monkeypatch):
    """It answered 500, an HTML page: the counters were lost when they told most."""
    assert scrape(client)[("portal_state_readable", ())] == 1
    get_client().get_statuses("00001")

    def database_down():
        raise OperationalError("connection to server at 127.0.0.1 failed")
        yield  # a generator, as the real one

    monkeypatch.setattr(state, "import_metrics", database_down)
    scraped = scrape(client)
    assert scraped[("portal_state_readable", ())] == 0
    assert not any(name.startswith("portal_import") for name, _labels in scraped)
    assert value(scraped, "portal_thulium_calls_total", endpoint="GET outbounds/:id/statuses",
                 outcome="succeeded") >= 1


def test_a_database_that_takes_connections_and_never_answers_leaves_the_counters_served(
        client, campaigns, thulium, silent_database):
    """The state was read on the thread's kept connection, and a database that stopped
    answering on it held the scrape (133 s seen) past Prometheus' 10 s, which then dropped
    every counter; each such scrape held a thread of gunicorn's."""
    get_client().get_statuses("00001")

    scraped = [scrape(client) for _ in range(db_deadline.READERS + 1)]

    assert [found[("portal_state_readable", ())] for found in scraped] == [0, 0, 0]
    assert all(value(found, "portal_thulium_calls_total", endpoint="GET outbounds/:id/statuses",
                     outcome="succeeded") >= 1 for found in scraped)
    # The reads given up wait on in threads of their own, however often Prometheus scrapes
    # no more of them than this.
    assert len(readers()) == db_deadline.READERS


@pytest.mark.parametrize("authorization, status", [
    (None, 401),
    ("Bearer", 401),
    ("Bearer ", 401),
    ("Basic dXNlcjpwYXNz", 401),
    (f"{TOKEN}", 401),
    ("Bearer wrong-token", 403),
    (f"Bearer {TOKEN}x", 403),
    (f"Bearer {TOKEN[:-1]}", 403),
    ("Bearer żółw-ąę", 403),
])
def test_metrics_without_the_right_token_are_refused_without_data(client, authorization, status):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.get("/metrics", headers=headers)

    assert response.status_code == status
    assert b"portal_" not in response.content
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_metrics_do_not_exist_without_a_token_set(client, settings, db):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics").status_code == 404
    response = client.get("/metrics", headers={"Authorization": "Bearer "})
    assert response.status_code == 404
    assert b"portal_" not in response.content


@pytest.mark.django_db(transaction=True)
def test_import_rows_are_reported_by_state_and_imports_by_progress(logged_in, campaigns,
                                                                    settings):
    job = previewed(logged_in, campaigns["00001"],
                    csv_bytes(people(3) + [["12", "zły", "numer", ""]]))
    settings.IMPORT_CHECK_INLINE_BYTES = 0  # a worker is to check this one's rows
    large = previewed(logged_in, campaigns["00001"], csv_bytes(people(2, first=602000000)))
    assert import_confirm(job=job)
    waiting = scrape(logged_in)
    assert value(waiting, "portal_imports_queued") == 1
    assert value(waiting, "portal_imports_checking") == 1  # the large file below
    assert value(waiting, "portal_import_rows", state="queued") == 3

    import_push(job.pk)
    import_check(large.pk)
    done = scrape(logged_in)

    assert value(done, "portal_import_rows", state="added") == 3
    assert value(done, "portal_import_rows", state="invalid") == 1
    assert value(done, "portal_import_rows", state="queued") == 2  # the large file's
    assert (value(done, "portal_imports_queued"), value(done, "portal_imports_running"),
            value(done, "portal_imports_checking")) == (0, 0, 0)
    # Every state is there, counted or not, so a dashboard's series never vanish.
    assert label_values(done, "state") == set(RowState.values)


# The database's figures are read on a connection of their own, which sees what is committed.
@pytest.mark.django_db(transaction=True)
def test_imports_no_worker_renewed_within_a_lease_are_reported_stalled(
        logged_in, campaigns, monkeypatch):
    """An import whose only worker was killed hours before scraped as one being sent, and
    nothing told an operator that no worker ran."""
    dead, waiting = (previewed(logged_in, campaigns["00001"], csv_bytes(people(2, first=first)))
                     for first in (601000000, 602000000))
    assert import_confirm(job=dead) and import_confirm(job=waiting)
    assert value(scrape(logged_in), "portal_imports_stalled") == 0

    # What a push leaves when its process is killed: running, its heartbeat hours old.
    ImportJob.objects.filter(pk=dead.pk).update(
        state=ImportJob.State.RUNNING, heartbeat_at=timezone.now() - datetime.timedelta(hours=6))
    # Judged by the database's clock, which heartbeats are written in, not the web's.
    web_clock = timezone.now() + datetime.timedelta(minutes=2)
    monkeypatch.setattr(timezone, "now", lambda: web_clock)
    found = scrape(logged_in)

    assert value(found, "portal_imports_stalled") == 1
    assert (value(found, "portal_imports_running"), value(found, "portal_imports_queued")) == (1, 1)


@pytest.mark.django_db(transaction=True)
def test_the_chain_length_and_the_last_verify_audit_are_reported(logged_in, user, campaigns):
    assert ("portal_audit_last_verify_intact", ()) not in scrape(logged_in)  # never run
    first = change(actor=user, campaign=campaigns["00001"], sent={"dialer": "predictive"})
    change(actor=user, campaign=campaigns["00001"], sent={"dialer": "preview"})
    call_command("verify_audit")

    intact = scrape(logged_in)
    assert value(intact, "portal_audit_chain_links") == ChainHead.objects.get().seq == 4
    assert value(intact, "portal_audit_last_verify_intact") == 1
    assert value(intact, "portal_audit_last_verify_timestamp_seconds") == (
        ChainCheck.objects.get().checked_at.timestamp())

    tamper("UPDATE audit_entry SET sent = %s WHERE id = %s",
           ['{"dialer": "progressive"}', first.pk])
    with pytest.raises(CommandError):
        call_command("verify_audit")

    assert value(scrape(logged_in), "portal_audit_last_verify_intact") == 0
    assert f"entry #{first.pk}" in ChainCheck.objects.get().problem


@pytest.mark.django_db(transaction=True)
def test_scheduled_changes_waiting_are_reported(logged_in, user, campaigns):
    assert value(scrape(logged_in), "portal_scheduled_changes_waiting") == 0
    later = timezone.now() + datetime.timedelta(hours=1)
    first, _second = (
        change_schedule(campaign=campaigns["00001"], changes=changes, actor=user, reason="",
                        apply_at=later)
        for changes in ({"active": False}, {"order": 3})
    )
    assert value(scrape(logged_in), "portal_scheduled_changes_waiting") == 2

    scheduled_change_cancel(scheduled=first, actor=user, reason="Not needed after all")
    assert value(scrape(logged_in), "portal_scheduled_changes_waiting") == 1


@pytest.mark.django_db(transaction=True)
def test_a_scheduled_change_no_worker_sent_at_its_time_shows_in_the_earliest_due_time(
        logged_in, user, campaigns):
    """A change due two hours before, never sent, showed only in the count of changes
    waiting, which the docs said were not yet due."""
    due = "portal_scheduled_changes_earliest_due_timestamp_seconds"
    assert (due, ()) not in scrape(logged_in)  # none waits
    soon, late = (
        change_schedule(campaign=campaigns["00001"], changes={"order": order}, actor=user,
                        reason="", apply_at=timezone.now() + datetime.timedelta(hours=hours))
        for order, hours in ((3, 1), (4, 2))
    )
    soon.refresh_from_db()
    assert value(scrape(logged_in), due) == soon.apply_at.timestamp()

    # No worker ran at its time: two hours on, it still waits.
    ScheduledChange.objects.filter(pk=late.pk).update(
        apply_at=timezone.now() - datetime.timedelta(hours=2))
    late.refresh_from_db()
    found = scrape(logged_in)

    assert value(found, due) == late.apply_at.timestamp()
    assert value(found, "portal_scheduled_changes_waiting") == 2


@pytest.mark.django_db(transaction=True)
def test_scheduled_changes_thulium_gives_no_answer_about_are_reported(
        scheduled, logged_in, thulium, monkeypatch):  # noqa: F811
    """Such a change stayed being applied for up to a day, and no metric told of it."""
    unanswered = "portal_scheduled_changes_unanswered"
    assert scrape(logged_in)[(unanswered, ())] == 0
    begun_long_ago(monkeypatch)
    unanswered_while_thulium_is_down(thulium, scheduled, "lost")
    due_changes_apply(worker="worker-2")

    assert value(scrape(logged_in), unanswered) == 1

    claimed_long_ago(scheduled, by="worker-2")  # Thulium answers the next poll's question
    due_changes_apply(worker="worker-3")
    assert value(scrape(logged_in), unanswered) == 0


@pytest.mark.django_db(transaction=True)
def test_a_batch_answer_the_portal_cannot_read_is_counted_and_logged_unknown_as_its_records(
        logged_in, campaigns, thulium, caplog):
    """It was counted and logged succeeded, while its records' entries said unknown."""
    caplog.set_level(logging.INFO, logger="portal.thulium")
    thulium.state.batch_shape = "wrapped"
    job = previewed(logged_in, campaigns["00001"], csv_bytes(people(2)))
    assert import_confirm(job=job)
    before = scrape(logged_in)
    import_push(job.pk)
    after = scrape(logged_in)

    outcomes = set(Entry.objects.filter(kind="record-addition").values_list("outcome", flat=True))
    assert outcomes == {"unknown"}
    assert outcomes_counted(before, after, "POST batch/outbounds/:id/records") == {"unknown": 1}
    assert outcomes_logged(caplog, "batch/outbounds/00001/records") == ["unknown"]


def test_an_addition_answered_without_a_record_id_is_counted_and_logged_as_its_entry(
        client, user, campaigns, settings, caplog):
    """It was counted and logged succeeded, while its entry said unknown."""
    caplog.set_level(logging.INFO, logger="portal.thulium")
    before = scrape(client)
    with (CraftedThulium({"request_id": "53678450401cf"}) as crafted,
          pytest.raises(AdditionUnconfirmed) as unconfirmed):
        settings.THULIUM_API_URL = crafted.url
        record_add(campaign=campaigns["00001"], payload={"phone_number": "601234567"},
                   actor=user)
    after = scrape(client)

    entry = Entry.objects.get(pk=unconfirmed.value.entry.pk)
    assert entry.outcome == "unknown"
    assert outcomes_counted(before, after, ADD) == {"unknown": 1}
    assert outcomes_logged(caplog, "outbounds/00001/records") == ["unknown"]


def test_a_campaign_list_of_the_wrong_shape_is_counted_and_logged_failed_as_health_says(
        client, db, settings, caplog):
    """It was counted and logged succeeded, while /healthz/thulium said no proper answer."""
    caplog.set_level(logging.INFO, logger="portal.thulium")
    before = scrape(client)
    with CraftedThulium({"count": 3}) as crafted:
        settings.THULIUM_API_URL = crafted.url
        health = client.get("/healthz/thulium").json()
    after = scrape(client)

    assert health == {"status": "unavailable", "thulium": "no proper answer"}
    assert outcomes_counted(before, after, "GET outbounds") == {"failed": 1}
    assert outcomes_logged(caplog, "outbounds") == ["failed"]
