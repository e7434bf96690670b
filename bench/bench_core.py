"""Issue 2's figure: a form POST through the portal vs the same call straight to the sandbox.

The sandbox answers after 50 ms; the portal runs under gunicorn (1 worker, production
settings) on an SQLite file; each sample is one logged-in form POST answered by its
redirect. Target: the portal's median <= 1.2x the direct call's median, 200 of each,
the direct and portal samples taken in turn.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from support import MAKE_USERS, start_sandbox  # noqa: E402

from tests.production.processes import (  # noqa: E402
    Gunicorn,
    Visitor,
    manage,
    page_forms,
    production_env,
)

LATENCY = 0.05
SAMPLES = 200
TARGET = 1.2
SANDBOX_AUTH = ("sandbox", "sandbox-password")
CAMPAIGN = "00001"
PASSWORD = "a-long-bench-password"


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def direct(api: str) -> tuple:
    """The two calls sent straight to the sandbox with requests (keep-alive)."""
    session = requests.Session()

    def put(i):
        session.put(f"{api}/outbounds/{CAMPAIGN}", auth=SANDBOX_AUTH, timeout=5,
                    json={"name": f"Direct {i}"}).raise_for_status()

    def post(i):
        session.post(f"{api}/outbounds/{CAMPAIGN}/records", auth=SANDBOX_AUTH, timeout=5,
                     json={"phone_number": f"500{i:06d}"}).raise_for_status()

    return lambda i: timed(lambda: put(i)), lambda i: timed(lambda: post(i))


def form_fields(visitor: Visitor, page: str, field: str) -> dict:
    forms = page_forms(visitor.get(page).text)
    return next(f for f in forms if field in f["fields"])["fields"]


def through_portal(url: str) -> tuple:
    """The two form POSTs of a logged-in user, each timed up to its redirect."""
    visitor = Visitor(url)
    visitor.log_in("bench00", PASSWORD)
    edit, add = f"/campaigns/{CAMPAIGN}/edit/", f"/campaigns/{CAMPAIGN}/records/new/"
    add_fields = form_fields(visitor, add, "phone_number")

    def sample(path, data) -> float:
        if path == edit:
            # Untimed, the form as a browser opens it each time: it carries the version of
            # the settings it shows, and one based on an older version is refused.
            data = {**form_fields(visitor, edit, "name"), **data}
        started = time.perf_counter()
        response = visitor.post(path, data)
        elapsed = time.perf_counter() - started
        assert response.status_code == 302, f"{path} answered {response.status_code}"
        # Then, untimed, the page it leads to, as a browser would: that page shows (and so
        # consumes) the success message, which would otherwise pile up in the cookie.
        visitor.get(response.headers["Location"])
        return elapsed

    return (lambda i: sample(edit, {"name": f"Portal {i}"}),
            lambda i: sample(add, {**add_fields, "phone_number": f"600{i:06d}"}))


def interleaved(alone, portal) -> list[tuple[list[float], list[float]]]:
    """For each call, SAMPLES of each way, taken in turn: the machine's ups and downs then
    fall on both sides alike instead of on whichever ran second."""
    results = []
    for one, other in zip(alone, portal, strict=True):
        pairs = [(one(i), other(i)) for i in range(SAMPLES)]
        results.append(([first for first, _ in pairs], [second for _, second in pairs]))
    return results


def main():
    workdir = tempfile.mkdtemp(prefix="bench-core-")
    env = production_env(DATABASE_URL=f"sqlite:///{workdir}/bench.sqlite3",
                         STATIC_ROOT=f"{workdir}/static", LOG_LEVEL="WARNING")
    sandbox, port = start_sandbox(env, LATENCY)
    env["THULIUM_SANDBOX_PORT"] = str(port)
    try:
        for command in (["collectstatic", "--noinput"], ["migrate", "--noinput"],
                        ["sync_campaigns"]):
            manage(env, *command)
        manage(env, "shell", "-c", MAKE_USERS.format(password=PASSWORD, count=1))
        api = f"http://127.0.0.1:{port}/api"
        with Gunicorn(env, workers=1, threads=1) as portal:
            results = interleaved(direct(api), through_portal(portal.url))
    finally:
        sandbox.terminate()
        sandbox.wait()
    print(f"sandbox latency {LATENCY * 1000:.0f} ms, median of {SAMPLES}, SQLite, "
          "gunicorn 1 worker, production settings")
    for what, (alone, portal_times) in zip(
        ("campaign update (PUT)", "record addition (POST)"), results, strict=True
    ):
        ratio = statistics.median(portal_times) / statistics.median(alone)
        print(f"{what:24} direct {statistics.median(alone) * 1000:6.1f} ms   portal "
              f"{statistics.median(portal_times) * 1000:6.1f} ms   ratio {ratio:.3f} "
              f"(target <= {TARGET}) {'ok' if ratio <= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
