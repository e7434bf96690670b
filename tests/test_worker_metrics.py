"""The worker's own /metrics: a real run_worker process counts its calls to Thulium and
answers Prometheus on WORKER_METRICS_PORT, read here by Prometheus' own text parser."""

import datetime
import socket

import pytest
import requests
from django.core.management import CommandError, call_command
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from campaigns.models import ScheduledChange
from campaigns.scheduling import change_schedule
from portal.metrics.worker_page import worker_metrics_serve
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
