"""More than one machine: gunicorn instances sharing only PostgreSQL, and the cache in the
database or Redis, serve the same users and data, so a load balancer may send any request
to any instance."""

import subprocess
import sys
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

import pytest

from tests.conftest import api_calls, records_sent
from tests.import_files import csv_bytes, people

from .conftest import ADMIN_PASSWORD, create_admin
from .processes import (
    REPO,
    Visitor,
    concurrently,
    gunicorns,
    manage,
    page_forms,
    production_env,
)

pytestmark = pytest.mark.processes


@pytest.fixture(scope="module", params=["database", "redis"])
def machines(request, postgres_database, static_root, sandbox):
    """Two instances of one portal (one key, one database) and the user both serve.

    The cache, and with Redis the sessions too, live where the parameter says.
    """
    shared = {"CACHE_URL": "dbcache://portal_cache"}
    if request.param == "redis":
        shared = {"CACHE_URL": request.getfixturevalue("redis_url"),
                  "SESSION_ENGINE": "django.contrib.sessions.backends.cache"}
    env = production_env(
        DATABASE_URL=postgres_database, STATIC_ROOT=str(static_root), CONN_MAX_AGE="60",
        THULIUM_SANDBOX_PORT=str(urlsplit(sandbox.url).port),
        CACHE_KEY_PREFIX=f"test-{uuid.uuid4().hex}", **shared,
    )
    username = f"manager-{request.param}"
    if request.param == "database":  # Redis needs no table: no process start for nothing
        concurrently(lambda: manage(env, "createcachetable"),
                     lambda: create_admin(env, username))
    else:
        create_admin(env, username)
    with gunicorns(env, 2) as (first, second):
        yield first, second, username, env


def visitors(machines) -> tuple[Visitor, Visitor]:
    """One person logged in through the first instance, and the same browser session
    (its cookie) reaching the second."""
    first, second, username, _ = machines
    on_first, on_second = Visitor(first.url), Visitor(second.url)
    on_first.log_in(username, ADMIN_PASSWORD)
    on_second.session.cookies.set_cookie(on_first.session_cookie())
    return on_first, on_second


def test_a_login_on_one_instance_is_honoured_by_the_other_until_logout(machines):
    on_first, on_second = visitors(machines)
    page = on_second.get("/campaigns/")
    assert page.status_code == 200
    assert machines[2] in page.text

    assert on_first.submit("/campaigns/", {}, action="/accounts/logout/").status_code == 302
    after_logout = on_second.get("/campaigns/")
    assert after_logout.status_code == 302
    assert after_logout.headers["Location"].startswith("/accounts/login/")


def test_a_campaign_updated_through_one_instance_is_seen_through_the_other(machines, thulium):
    on_first, on_second = visitors(machines)
    on_first.submit("/campaigns/", {}, action="/campaigns/sync/")
    new_name = f"Sprzedaż OZE ({machines[2]})"

    # Predictive dialing is a risky change: it needs a reason (campaigns/risk.py).
    changed = on_first.confirm(on_first.submit("/campaigns/00001/edit/", {
        "name": new_name, "dialer": "predictive", "reason": "More calls in the season",
    }))
    assert changed.status_code == 302, changed.text

    (form,) = [f for f in page_forms(on_second.get("/campaigns/00001/edit/").text)
               if "name" in f["fields"]]
    assert (form["fields"]["name"], form["fields"]["dialer"]) == (new_name, "predictive")
    detail = on_second.get("/campaigns/00001/").text
    assert new_name in detail
    assert "settings changed" in detail


def test_statuses_read_through_one_instance_are_reused_by_the_other(machines, thulium):
    on_first, on_second = visitors(machines)
    on_first.submit("/campaigns/", {}, action="/campaigns/sync/")
    thulium.state.reset()

    assert on_first.get("/campaigns/00002/records/new/").status_code == 200
    assert on_second.get("/campaigns/00002/records/new/").status_code == 200
    assert len(api_calls(thulium)) == 2  # statuses and agents, asked once for both

    reload = on_second.submit("/campaigns/00002/records/new/", {},
                              action="/campaigns/00002/records/refresh-choices/")
    assert reload.status_code == 302
    assert on_first.get("/campaigns/00002/records/new/").status_code == 200
    assert len(api_calls(thulium)) == 4  # the reload through the second served the first


def upload_through(visitor: Visitor, rows: list[list[str]]) -> int:
    """Upload, map (as proposed) and confirm a file as a person would; the import's id."""
    page = "/campaigns/00001/records/import/"
    (form,) = [f for f in page_forms(visitor.get(page).text) if "file" in f["fields"]]
    fields = {name: value for name, value in form["fields"].items() if name != "file"}
    uploaded = visitor.session.post(
        visitor.url + page, data=fields, allow_redirects=False, timeout=30,
        files={"file": ("leady.csv", csv_bytes(rows), "text/csv")},
    )
    assert uploaded.status_code == 302, uploaded.text
    mapping_page = urlsplit(uploaded.headers["Location"]).path
    job = int(mapping_page.strip("/").split("/")[1])
    mapped = visitor.submit(mapping_page, {}, action="")
    assert mapped.status_code == 302, mapped.text
    confirmed = visitor.submit(f"/imports/{job}/", {}, action=f"/imports/{job}/confirm/")
    assert confirmed.status_code == 302, confirmed.text
    return job


def test_an_import_split_across_two_workers_sends_every_row_exactly_once(
    machines, thulium, tmp_path
):
    on_first, on_second = visitors(machines)
    # Batches of 5: 40 calls, more than one worker takes at once (3 x 8 batches).
    env = {**machines[3], "IMPORT_BATCH_SIZE": "5"}
    on_first.submit("/campaigns/", {}, action="/campaigns/sync/")
    thulium.state.reset()
    thulium.state.latency = 0.02
    # Numbers of their own: both parameters share one database, and the portal refuses a
    # number it already added.
    rows = people(200, first=700000000 if machines[2].endswith("database") else 710000000)
    job = upload_through(on_first, rows)
    # A second task for the same import, so both workers take rows of it at once.
    manage(env, "shell", "-c",
           f"from imports.services import import_enqueue; import_enqueue({job})")
    # No answer until both workers send at once: one alone has 8 calls in flight.
    thulium.state.gather(12)

    logs = [tmp_path / f"worker-{n}.log" for n in (1, 2)]
    workers = [
        subprocess.Popen([sys.executable, "manage.py", "run_worker", "--worker-id", log.stem],
                         cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        for log in logs
    ]
    try:
        deadline = time.monotonic() + 120
        progress = {}
        while time.monotonic() < deadline:
            progress = on_second.get(f"/imports/{job}/progress.json").json()
            if progress.get("final"):
                break
            time.sleep(0.1)
    finally:
        # Both stop gracefully at once (each takes a second or two).
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)

    assert progress.get("final"), progress
    assert thulium.state.gathered, "the two workers never sent at the same time"
    sent = Counter(record["phone_number"] for record in records_sent(thulium))
    assert sent == Counter({row[0]: 1 for row in rows})
    assert all("thulium POST batch/outbounds/00001/records" in log.read_text()
               for log in logs)
