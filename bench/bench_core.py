"""Issue 2's figure: a form POST through the portal vs the same call straight to the sandbox.

The sandbox answers after 50 ms; the portal runs under gunicorn on an SQLite file; each
sample is one logged-in form POST answered by its redirect. Target: portal <= 1.2x direct.
"""

import os
import re
import tempfile
import time

import requests
from support import PYTHON, free_port, manage, median_ms, process, sandbox_process, wait_for

LATENCY = 0.05
SAMPLES = 200
TARGET = 1.2
SANDBOX_AUTH = ("sandbox", "sandbox-password")
CAMPAIGN = "00001"
KNOWN = {
    "dialer": "progressive", "active": "true", "start_date": "2026-01-05",
    "end_date": "2026-12-31", "order": "50", "parity": "50", "group_id": "15",
    "caller_id": "221234567", "preview_timeout": "30", "predictive_max_calls": "3",
    "predictive_min_calls": "1",
}


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def direct(sandbox_url: str) -> tuple[list[float], list[float]]:
    session = requests.Session()
    puts = [timed(lambda i=i: session.put(f"{sandbox_url}/outbounds/{CAMPAIGN}", auth=SANDBOX_AUTH,
                                          json={"name": f"Direct {i}"}, timeout=5)
                  .raise_for_status())
            for i in range(SAMPLES)]
    posts = [timed(lambda i=i: session.post(f"{sandbox_url}/outbounds/{CAMPAIGN}/records",
                                            auth=SANDBOX_AUTH, timeout=5,
                                            json={"phone_number": f"500{i:06d}"})
                   .raise_for_status())
             for i in range(SAMPLES)]
    return puts, posts


def logged_in(portal: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{portal}/accounts/login/", timeout=5)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(f"{portal}/accounts/login/", timeout=5, allow_redirects=False,
                          data={"username": "bench", "password": password,
                                "csrfmiddlewaretoken": token})
    assert answer.status_code == 302, "login failed"
    return session


def form_post(session, url: str, data: dict):
    token = session.cookies["csrftoken"]
    answer = session.post(url, data={**data, "csrfmiddlewaretoken": token},
                          allow_redirects=False, timeout=5, headers={"Referer": url})
    assert answer.status_code == 302, f"{url} answered {answer.status_code}"


def through_portal(portal: str, password: str) -> tuple[list[float], list[float]]:
    session = logged_in(portal, password)
    edit = f"{portal}/campaigns/{CAMPAIGN}/edit/"
    add = f"{portal}/campaigns/{CAMPAIGN}/records/new/"
    session.get(add, timeout=5)  # statuses and agents are cached from here on
    puts = [timed(lambda i=i: form_post(session, edit, {**KNOWN, "name": f"Portal {i}"}))
            for i in range(SAMPLES)]
    posts = [timed(lambda i=i: form_post(session, add, {"phone_number": f"600{i:06d}"}))
             for i in range(SAMPLES)]
    return puts, posts


def main():
    workdir = tempfile.mkdtemp(prefix="bench-core-")
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": "bench-only",
           "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3", "LOG_LEVEL": "WARNING"}
    env.pop("THULIUM_API_URL", None)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    password = "bench-password-123"
    manage(env, "shell", "-c",
           "from django.contrib.auth.models import User; "
           f"User.objects.create_user('bench', password='{password}')")
    with sandbox_process(env, LATENCY) as sandbox_port:
        env["THULIUM_SANDBOX_PORT"] = str(sandbox_port)
        manage(env, "sync_campaigns")
        sandbox_url = f"http://127.0.0.1:{sandbox_port}/api"
        web_port = free_port()
        with process([PYTHON, "-m", "gunicorn", "portal.wsgi", "--bind",
                      f"127.0.0.1:{web_port}", "--workers", "1"], env):
            portal = f"http://127.0.0.1:{web_port}"
            wait_for(f"{portal}/accounts/login/")
            direct_puts, direct_posts = direct(sandbox_url)
            requests.post(f"http://127.0.0.1:{sandbox_port}/_sandbox/reset", timeout=5)
            requests.post(f"http://127.0.0.1:{sandbox_port}/_sandbox/latency",
                          json={"seconds": LATENCY}, timeout=5)
            portal_puts, portal_posts = through_portal(portal, password)
    print(f"sandbox latency {LATENCY * 1000:.0f} ms, median of {SAMPLES}, SQLite, "
          "gunicorn 1 worker")
    for what, straight, portal_samples in (
        ("campaign update (PUT)", direct_puts, portal_puts),
        ("record addition (POST)", direct_posts, portal_posts),
    ):
        ratio = median_ms(portal_samples) / median_ms(straight)
        verdict = "ok" if ratio <= TARGET else "MISSED"
        print(f"{what:24} direct {median_ms(straight):6.1f} ms   portal "
              f"{median_ms(portal_samples):6.1f} ms   ratio {ratio:.3f} "
              f"(target <= {TARGET}) {verdict}")


if __name__ == "__main__":
    main()
