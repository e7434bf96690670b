"""Bulk import figures: push throughput, and upload + full preview of a large file.

    .venv/bin/python bench/bench_import.py [--database-url URL] [--rows 10000] [--big 100000]

Everything runs as separate processes on this machine, as in production: the sandbox
(answering after 50 ms), the web server (gunicorn, one worker), and `manage.py
run_worker`. The database is the bench's own: PostgreSQL `portal_import_bench` on
127.0.0.1 if it answers, else an SQLite file in a temporary folder; both are removed
at the end. Figures are printed beside their targets; timings on a shared machine vary.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing, contextmanager
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_URL = "postgres://postgres@127.0.0.1:5432/portal_import_bench"
LATENCY = 0.05
CONCURRENCY = 8
USER, PASSWORD = "bench", "bench-password-not-secret"
TARGET_SHARE = 0.90
TARGET_PREVIEW_SECONDS = 15.0
TARGET_PEAK_MB = 300.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: PostgreSQL if it answers, else SQLite")
    parser.add_argument("--rows", type=int, default=10_000, help="rows pushed to the sandbox")
    parser.add_argument("--big", type=int, default=100_000, help="rows of the previewed file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp, \
            bench_database(args.database_url, Path(tmp)) as database_url:
        env = bench_env(database_url)
        print(f"database: {database_url.split('@')[-1]}")
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "collectstatic", "--noinput", "-v0")  # pages need it with DEBUG off
        manage(env, "shell", "-c", SETUP)
        with process([PYTHON, "manage.py", "run_sandbox", "--port", env["THULIUM_SANDBOX_PORT"],
                      "--latency", str(LATENCY)], env, Path(tmp) / "sandbox.log"), \
                web_server(env, Path(tmp)) as (web_url, web_pid):
            wait_for_port(int(env["THULIUM_SANDBOX_PORT"]))
            manage(env, "shell", "-c", "from campaigns.services import campaigns_sync; "
                                       "campaigns_sync()")
            session = login(web_url)
            preview_figures(session, web_url, web_pid, args.big, Path(tmp))
            push_figures(session, web_url, env, args.rows, Path(tmp))


SETUP = f"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
user = get_user_model().objects.create_user({USER!r}, password={PASSWORD!r})
user.groups.add(Group.objects.get(name="Record loaders"))
"""


def preview_figures(session, web_url, web_pid, rows, tmp):
    path = tmp / "big.csv"
    write_csv(path, rows, first=500_000_000)
    size_mb = path.stat().st_size / 1e6
    started = time.perf_counter()
    job_url = upload_and_preview(session, web_url, path)
    seconds = time.perf_counter() - started
    peak_mb = peak_rss_mb(web_pid)
    counts = session.get(job_url).text
    assert f'data-count="valid">{rows}<' in counts, "the preview did not accept every row"
    print(f"\n{rows:,}-row CSV ({size_mb:.1f} MB, Windows-1250, ;): upload + full preview")
    report("time", seconds, "s", TARGET_PREVIEW_SECONDS, lower_is_better=True)
    report("web process peak memory (VmHWM)", peak_mb, "MB", TARGET_PEAK_MB,
           lower_is_better=True)


def push_figures(session, web_url, env, rows, tmp):
    path = tmp / "push.csv"
    write_csv(path, rows, first=600_000_000)
    job_url = upload_and_preview(session, web_url, path)
    job_id = int(re.search(r"/imports/(\d+)/", job_url).group(1))
    with process([PYTHON, "manage.py", "run_worker"], env, tmp / "worker.log"):
        time.sleep(3)  # the worker's start-up is not part of the figure
        confirmed = time.perf_counter()
        post(session, f"{web_url}/imports/{job_id}/confirm/")
        while not (progress := session.get(f"{web_url}/imports/{job_id}/progress.json").json())[
                "final"]:
            time.sleep(0.5)
        end_to_end = time.perf_counter() - confirmed
    sending = float(manage(env, "shell", "-c", SENDING_SECONDS.format(job_id=job_id))
                    .strip().splitlines()[-1])
    ideal = CONCURRENCY / LATENCY
    rate = progress["added"] / sending
    print(f"\n{rows:,} rows pushed, sandbox answering after {LATENCY * 1000:.0f} ms, "
          f"{CONCURRENCY} concurrent requests (ideal {ideal:.0f} rows/s)")
    print(f"  added {progress['added']}, refused {progress['refused']}, "
          f"failed {progress['failed']}, unknown {progress['unknown']}")
    report("rows/s while sending", rate, "rows/s", TARGET_SHARE * ideal)
    print(f"  = {rate / ideal:.0%} of the ideal (target {TARGET_SHARE:.0%}); "
          f"from the click on Send to the last row: {end_to_end:.1f} s")
    ceiling = bare_posts_per_second(env, min(rows, 2000))
    print(f"  for scale, this machine now: {CONCURRENCY} threads doing nothing but POST to the "
          f"same sandbox reach {ceiling:.0f} rows/s ({ceiling / ideal:.0%} of the ideal)")


def bare_posts_per_second(env, count):
    """POSTs a second with no portal at all: what the machine and the sandbox allow now."""
    url = f"http://127.0.0.1:{env['THULIUM_SANDBOX_PORT']}/api/outbounds/00001/records"
    numbers = iter(range(800_000_000, 800_000_000 + count))
    lock = threading.Lock()

    def post_all():
        with requests.Session() as session:
            while True:
                with lock:
                    number = next(numbers, None)
                if number is None:
                    return
                session.post(url, json={"phone_number": str(number)},
                             auth=("sandbox", "sandbox-password"), timeout=30)

    started = time.perf_counter()
    threads = [threading.Thread(target=post_all) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return count / (time.perf_counter() - started)


SENDING_SECONDS = """
from imports.models import ImportJob
job = ImportJob.objects.get(pk={job_id})
print((job.rows.order_by("-finished_at").first().finished_at - job.started_at).total_seconds())
"""


def report(what, value, unit, target, lower_is_better=False):
    met = value <= target if lower_is_better else value >= target
    sign = "<" if lower_is_better else ">="
    print(f"  {what}: {value:.1f} {unit} (target {sign} {target:.0f} {unit}) "
          f"{'MET' if met else 'NOT MET'}")


# --- the web side ---------------------------------------------------------------------


def login(web_url):
    session = requests.Session()
    session.get(f"{web_url}/accounts/login/")
    post(session, f"{web_url}/accounts/login/", {"username": USER, "password": PASSWORD})
    return session


def post(session, url, data=None, files=None):
    data = {**(data or {}), "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    response = session.post(url, data=data, files=files, allow_redirects=False,
                            headers={"Referer": url}, timeout=300)
    if response.status_code != 302:
        raise RuntimeError(f"POST {url}: HTTP {response.status_code}\n{response.text[:2000]}")
    return response


def upload_and_preview(session, web_url, path):
    """Upload the file and preview it with the proposed mapping; the job's URL."""
    with path.open("rb") as file:
        mapping_url = web_url + post(
            session, f"{web_url}/campaigns/00001/records/import/", files={"file": file}
        ).headers["Location"]
    page = session.get(mapping_url).text
    mapping = dict(re.findall(
        r'name="(column_\d+)"[^>]*>.*?<option value="([^"]*)" selected', page, re.S))
    return web_url + post(session, mapping_url, mapping).headers["Location"]


def write_csv(path, rows, first):
    with path.open("w", encoding="cp1250", newline="") as file:
        file.write("Nr telefonu;Imię;Nazwisko;Miasto\r\n")
        for n in range(rows):
            file.write(f"{first + n};Zofia;Wiśniewska-Dąbrowska;Łódź\r\n")


def peak_rss_mb(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


@contextmanager
def web_server(env, tmp):
    """gunicorn with one worker process; yields its URL and the worker's pid."""
    port = free_port()
    command = [PYTHON, "-m", "gunicorn", "portal.wsgi", "--workers", "1", "--bind",
               f"127.0.0.1:{port}", "--timeout", "300"]
    with process(command, env, tmp / "web.log") as master:
        wait_for_port(port)
        children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
        yield f"http://127.0.0.1:{port}", int(children[0])


# --- processes and the database -------------------------------------------------------


def bench_env(database_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THULIUM_", "IMPORT_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "portal.settings", "DEBUG": "false",
        "SECRET_KEY": "bench-only-not-secret", "AUDIT_PII_KEY": "bench-only-too",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url, "THULIUM_SANDBOX_PORT": str(free_port()),
        "TASK_BACKEND": "database", "IMPORT_CONCURRENCY": str(CONCURRENCY),
        "LOG_LEVEL": "WARNING", "PYTHONPATH": str(BASE_DIR),
        # Plain HTTP on loopback: no redirect to HTTPS, cookies that travel over HTTP.
        "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
    })
    return env


def manage(env, *args):
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


@contextmanager
def process(command, env, log_path):
    with log_path.open("wb") as log:
        child = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log,
                                 stderr=subprocess.STDOUT)
    try:
        yield child
    finally:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@contextmanager
def bench_database(url, tmp):
    if url:
        yield url
        return
    if pg_answers():
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                        "DROP DATABASE IF EXISTS portal_import_bench"], check=True)
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                        "CREATE DATABASE portal_import_bench"], check=True)
        try:
            yield PG_URL
        finally:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                            "DROP DATABASE IF EXISTS portal_import_bench WITH (FORCE)"])
        return
    yield f"sqlite:///{tmp / 'bench.sqlite3'}"


def pg_answers():
    if not shutil.which("psql"):
        return False
    with closing(socket.socket()) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", 5432)) == 0


def free_port():
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with closing(socket.socket()) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


if __name__ == "__main__":
    main()
