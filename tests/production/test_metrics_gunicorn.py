"""/metrics under gunicorn with two workers: what each worker counted is added up, as
Prometheus' own text parser reads it."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector

from tests.conftest import api_calls
from tests.scrapes import BEARER, TOKEN, samples, value

from .conftest import ADMIN_PASSWORD, create_admin
from .processes import Gunicorn, Visitor, production_env

pytestmark = pytest.mark.processes

ADMIN = "metrics-admin"
SYNC = "GET outbounds"


@pytest.fixture(scope="module")
def admin(portal_database, static_root):
    create_admin(production_env(DATABASE_URL=portal_database, STATIC_ROOT=str(static_root)),
                 ADMIN)


def portal_env(database, static_root, sandbox, metrics_dir):
    return production_env(
        DATABASE_URL=database, STATIC_ROOT=str(static_root), METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        THULIUM_SANDBOX_PORT=str(urlsplit(sandbox.url).port),
    )


def scrape(portal: Gunicorn) -> dict[tuple, float]:
    """/metrics as a scraper reaches a machine: by address, over plain HTTP, with the token."""
    response = requests.get(portal.url + "/metrics", headers={"Authorization": BEARER,
                                                              "Host": "10.0.0.7:8000"},
                            allow_redirects=False, timeout=30)
    assert response.status_code == 200, response.text
    return samples(response.text)


def syncs_by_worker(metrics_dir: Path) -> dict[str, float]:
    """Campaign syncs each worker counted, read from its own file: {pid: count}."""
    found = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = path.stem.rpartition("_")[2]
        for family in MultiProcessCollector.merge([str(path)]):
            for sample in family.samples:
                if (sample.name, sample.labels) == ("portal_requests_total", {
                        "view": "campaigns:sync", "method": "POST", "status": "302"}):
                    found[pid] = found.get(pid, 0) + sample.value
    return found


def test_both_workers_counts_add_up_in_one_scrape_and_a_restart_counts_from_zero(
    admin, portal_database, static_root, sandbox, thulium, tmp_path
):
    env = portal_env(portal_database, static_root, sandbox, tmp_path)
    with Gunicorn(env, workers=2) as portal:
        visitor = Visitor(portal.url)
        visitor.log_in(ADMIN, ADMIN_PASSWORD)
        # A new connection per request, so that the kernel hands them to either worker.
        visitor.session.headers["Connection"] = "close"

        def sync(_):
            response = visitor.submit("/campaigns/", {}, action="/campaigns/sync/")
            assert response.status_code == 302, response.status_code

        sync(0)  # the first sync creates the campaigns; later ones may run at once
        with ThreadPoolExecutor(8) as pool:
            while len(syncs_by_worker(tmp_path)) < 2 and len(api_calls(thulium)) < 200:
                list(pool.map(sync, range(8)))
        found = scrape(portal)

    by_worker = syncs_by_worker(tmp_path)
    assert len(by_worker) == 2, f"one worker served every request: {by_worker}"
    # The GET outbounds of each sync; the list's stats calls (GET outbounds/stats) apart.
    made = len([c for c in api_calls(thulium, "GET") if c["path"] == "/api/outbounds"])
    assert sum(by_worker.values()) == made
    assert value(found, "portal_requests_total", view="campaigns:sync", method="POST",
                 status="302") == made
    assert value(found, "portal_thulium_calls_total", endpoint=SYNC,
                 outcome="succeeded") == made
    assert value(found, "portal_thulium_call_duration_seconds_count", endpoint=SYNC) == made
    # The database's state is there too, read by whichever worker answered.
    assert ("portal_audit_chain_links", ()) in found
    assert ("portal_import_rows", (("state", "added"),)) in found

    with Gunicorn(env) as restarted:
        assert value(scrape(restarted), "portal_requests_total", view="campaigns:sync",
                     method="POST", status="302") == 0
        for headers, status in (({}, 401), ({"Authorization": "Bearer wrong"}, 403)):
            response = requests.get(restarted.url + "/metrics", headers=headers, timeout=30)
            assert response.status_code == status
            assert "portal_" not in response.text


def test_a_scrape_carries_only_the_portal_s_own_metrics(portal_database, static_root, sandbox,
                                                       tmp_path):
    """django_rq's admin, loaded with the portal's, added its summary of a dashboard's
    scrapes (rq_request_processing_seconds_total), never observed."""
    env = portal_env(portal_database, static_root, sandbox, tmp_path)
    with Gunicorn({**env, "TASK_BACKEND": "rq"}) as portal:
        names = {name for name, _labels in scrape(portal)}
    assert {name for name in names if not name.startswith("portal_")} == set()
