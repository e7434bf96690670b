"""The worker's own /metrics: a real run_worker process counts its calls to Thulium and
answers Prometheus on WORKER_METRICS_PORT, read here by Prometheus' own text parser."""

import datetime
import socket
import threading
import time

import pytest
import requests
from django.core.management import CommandError, call_command
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from campaigns.models import ScheduledChange
from campaigns.scheduling import change_schedule
from portal.metrics.worker_page import _Threading, worker_metrics_serve
from tests.workers import Workers, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN = "worker-metrics-test-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_worker_serves_its_calls_to_thulium_behind_the_token(
    user, campaigns, thulium, tmp_path, settings
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    workers = Workers(thulium, "database", tmp_path)
    port = free_port()
    workers.env.update({"SCHEDULE_POLL_SECONDS": "0.2", "METRICS_TOKEN": TOKEN,
                        "WORKER_METRICS_PORT": str(port)})
    change = change_schedule(campaign=campaigns["00001"], changes={"order": 7}, actor=user,
                             reason="", apply_at=timezone.now() + datetime.timedelta(seconds=1))
    try:
        workers.start()
        wait_until(lambda: ScheduledChange.objects.get(pk=change.pk).state
                   == ScheduledChange.State.APPLIED, workers=workers, seconds=60,
                   what="the worker to apply the change")
        url = f"http://127.0.0.1:{port}/metrics"
        answer = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        without = requests.get(url, timeout=5)
        wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
        elsewhere = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
    finally:
        workers.stop_all()

    assert answer.status_code == 200, workers.logs()
    families = {family.name: family for family in text_string_to_metric_families(answer.text)}
    calls = {(sample.labels["endpoint"], sample.labels["outcome"]): sample.value
             for sample in families["portal_thulium_calls"].samples
             if sample.name == "portal_thulium_calls_total"}
    assert calls[("PUT outbounds/:id", "succeeded")] == 1
    assert (without.status_code, wrong.status_code, elsewhere.status_code) == (401, 403, 404)
    assert without.text == wrong.text == ""


def test_a_worker_metrics_port_taken_is_refused_in_one_line(settings):
    """It ended run_worker's start with an OSError traceback."""
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        settings.WORKER_METRICS_PORT = taken.getsockname()[1]
        with pytest.raises(CommandError) as refused:
            call_command("run_worker")
    assert str(refused.value) == (f"WORKER_METRICS_PORT {settings.WORKER_METRICS_PORT} cannot "
                                  "be opened: Address already in use.")


def test_a_connection_left_idle_neither_stalls_the_worker_s_scrapes_nor_stays_for_ever(
        settings, monkeypatch, capsys):
    """A load balancer's port check or a scrape cut half-way kept wsgiref's one connection,
    and Prometheus saw the worker down until it left."""
    settings.METRICS_TOKEN = TOKEN
    server = worker_metrics_serve(free_port())
    address = ("127.0.0.1", server.server_port)
    try:
        with socket.create_connection(address):
            answer = requests.get(f"http://127.0.0.1:{server.server_port}/metrics",
                                  headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
            assert answer.status_code == 200
        monkeypatch.setattr("portal.metrics.worker_page._Quiet.timeout", 0.1)
        with socket.create_connection(address, timeout=5) as idle:
            assert idle.recv(1) == b""  # let go by the server, not by this timeout
    finally:
        server.shutdown()
        server.server_close()
    assert capsys.readouterr().err == ""


def connection_threads() -> int:
    """The worker metrics server's threads answering a connection, in this process."""
    return sum(thread.name.endswith("(process_request_thread)")
               for thread in threading.enumerate())


def test_idle_connections_beyond_the_cap_hold_no_thread_and_a_scrape_still_answers(
        settings, monkeypatch):
    """Every connection had a thread of its own: a client opening many, and sending a byte
    now and then, held as many threads as it liked."""
    settings.METRICS_TOKEN = TOKEN
    monkeypatch.setattr("portal.metrics.worker_page._Quiet.timeout", 2)
    server = worker_metrics_serve(free_port())
    address = ("127.0.0.1", server.server_port)
    opened, idle = 12, []
    # Other tests' servers may still have threads letting their connections go.
    before = connection_threads()
    try:
        for _ in range(opened):
            idle.append(socket.create_connection(address, timeout=5))
            time.sleep(0.02)  # taken before the next comes: the listening queue is short
        held = connection_threads()
        answer = requests.get(f"http://127.0.0.1:{server.server_port}/metrics",
                              headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    finally:
        for connection in idle:
            connection.close()
        server.shutdown()
        server.server_close()
    assert held - before <= _Threading.connections < opened, (held, before)
    assert answer.status_code == 200
    # Answered within its own timeout, behind idle connections let go after their 2 s.


def test_a_connection_trickling_its_request_is_let_go_when_its_time_is_up(settings,
                                                                         monkeypatch):
    """A timeout for each read never came to a client sending a byte more often: it kept
    its connection, and its thread, for as long as it went on."""
    settings.METRICS_TOKEN = TOKEN
    monkeypatch.setattr("portal.metrics.worker_page._Quiet.timeout", 1)
    server = worker_metrics_serve(free_port())
    try:
        with socket.create_connection(("127.0.0.1", server.server_port)) as slow:
            slow.settimeout(0.2)
            let_go = False
            for byte in b"GET /metrics HTTP/1.1\r\nX-Trickle: " + b"a" * 20:
                try:
                    let_go = slow.recv(1) == b""
                    break
                except TimeoutError:
                    slow.send(bytes([byte]))
                except ConnectionResetError:  # closed with a byte of it unread
                    let_go = True
                    break
    finally:
        server.shutdown()
        server.server_close()
    assert let_go  # before its request was done: trickled, it was never let go
