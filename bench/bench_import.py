"""Bulk import figures (issue 11): batch push speed, lost answers, the worker's memory,
single POSTs for comparison; and upload + full preview of a large file (its rows checked
by a worker, as every file over IMPORT_CHECK_INLINE_BYTES is): --big rows of four columns,
or of the number alone with --numbers-only (the 20 MiB limit lets 1,900,000 such rows in).

    .venv/bin/python bench/bench_import.py [--database-url URL] [--rows 100000]
        [--lost-rows 10000] [--single-rows 10000] [--big 100000] [--numbers-only]

1. Speed: --rows rows pushed in batches of 100 (IMPORT_BATCH_SIZE=100), from the click on
   Send to the last row final (target under 60 s); the sandbox then holds each number of
   the file exactly once. In the same run a bare script (plain threads, requests.Session,
   the same batches to the same sandbox, no portal) sends as many rows: portal / bare
   within 1.5x. The CPU time each side used is printed (the whole machine's, and the
   worker's, PostgreSQL's, the sandbox's...), and the least wall time the push's could
   take on this machine's CPUs: where that alone exceeds 1.5x, only less work per row can
   meet the target, not more overlap.
2. Lost answers: --lost-rows rows in batches of 100, each 10th batch answer lost after
   the sandbox stored the batch (a timeout longer than the worker's THULIUM_TIMEOUT). No
   row unknown, no number sent twice nor held twice; the lost answers, the listings the
   worker made to find the rows, and the time are printed.
3. Memory: the worker's VmRSS, read every 0.5 s during figures 1 and 2, stays under 200 MB.
4. Single POSTs (IMPORT_BATCH_SIZE=1), --single-rows rows: rows/s beside the batch
   figure's, for comparison only (no target).

Everything runs as separate processes on this machine, as in production: the sandbox
(answering after 50 ms), the web server (gunicorn, one worker), and one `manage.py
run_worker` per figure (IMPORT_CONCURRENCY=8; the batch size is read from its
environment). Each figure has its own import job and fresh numbers. The database is the
bench's own: PostgreSQL `portal_import_bench` on 127.0.0.1 if it answers, else an SQLite
file in a temporary folder; both are removed at the end. Figures are printed beside
their targets; timings on a shared machine vary.
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
from collections import Counter
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_URL = "postgres://postgres@127.0.0.1:5432/portal_import_bench"
LATENCY = 0.05
CONCURRENCY = 8
BATCH_SIZE = 100
USER, PASSWORD = "bench", "bench-password-not-secret"
SANDBOX_AUTH = ("sandbox", "sandbox-password")
CAMPAIGN = "00001"
TARGET_PREVIEW_SECONDS = 15.0
INLINE_BYTES = 1024 * 1024  # IMPORT_CHECK_INLINE_BYTES's default
TARGET_PEAK_MB = 300.0
TARGET_PUSH_SECONDS = 60.0
TARGET_BARE_RATIO = 1.5
TARGET_WORKER_MB = 200.0
# Figure 2: each LOST_EVERY-th batch answer is lost; the sandbox answers LOST_DELAY
# seconds late, after the worker gave up waiting (its THULIUM_TIMEOUT).
LOST_EVERY = 10
LOST_TIMEOUT = 2.0
LOST_DELAY = 3.0
# First numbers of each figure's file: every figure has its own, each in a range of Polish
# numbers the record form takes (900 000 000 and up is no number of the Polish plan).
FIRST_BIG, FIRST_SPEED, FIRST_BARE, FIRST_SINGLE, FIRST_LOST = (
    500_000_000, 600_000_000, 700_000_000, 800_000_000, 880_000_000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: PostgreSQL if it answers, else SQLite")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the speed figure")
    parser.add_argument("--lost-rows", type=int, default=10_000,
                        help="rows of the lost-answers figure")
    parser.add_argument("--single-rows", type=int, default=10_000,
                        help="rows pushed with single POSTs, for comparison")
    parser.add_argument("--big", type=int, default=100_000, help="rows of the previewed file")
    parser.add_argument("--numbers-only", action="store_true",
                        help="the previewed file's rows hold only a number")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # each figure shows as soon as it is known
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp, \
            bench_database(args.database_url, Path(tmp)) as database_url:
        env = bench_env(database_url)
        print(f"database: {database_url.split('@')[-1]}")
        # Pages need it with DEBUG off, and manage.py refuses to start without (portal.E002).
        manage(env, "collectstatic", "--noinput", "-v0")
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "shell", "-c", SETUP)
        with process([PYTHON, "manage.py", "run_sandbox", "--port", env["THULIUM_SANDBOX_PORT"],
                      "--latency", str(LATENCY)], env, Path(tmp) / "sandbox.log") as sandboxed, \
                web_server(env, Path(tmp)) as (web_url, web_pid):
            wait_for_port(int(env["THULIUM_SANDBOX_PORT"]))
            manage(env, "shell", "-c", CAMPAIGNS_SYNC)
            portal = Portal(login(web_url), web_url, env, Path(tmp),
                            {"sandbox": sandboxed.pid, "web": web_pid})
            sandbox = f"http://127.0.0.1:{env['THULIUM_SANDBOX_PORT']}"
            preview_figures(portal, web_pid, args.big, args.numbers_only)
            speed = speed_figures(portal, sandbox, args.rows)
            single_post_figures(portal, args.single_rows, speed)
            # Last: its every-n-th fault lasts until the sandbox is reset.
            lost = lost_answer_figures(portal, sandbox, args.lost_rows)
            memory_figures({"speed": speed, "lost answers": lost})


SETUP = f"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
user = get_user_model().objects.create_user({USER!r}, password={PASSWORD!r})
user.groups.add(Group.objects.get(name="Record loaders"))
"""
CAMPAIGNS_SYNC = "from campaigns.reading import campaigns_sync; campaigns_sync()"


def preview_figures(portal, web_pid, rows, numbers_only):
    path = portal.tmp / "big.csv"
    write_csv(path, rows, first=FIRST_BIG, numbers_only=numbers_only)
    size_mb = path.stat().st_size / 1e6
    with checking_worker(portal.env, portal.tmp, "preview") as worker_pid:
        started = time.perf_counter()
        job_url = upload_and_preview(portal.session, portal.web_url, path)
        seconds = time.perf_counter() - started
        worker_mb = proc_status_mb(worker_pid, "VmHWM")
    peak_mb = proc_status_mb(web_pid, "VmHWM")
    counts = portal.session.get(job_url).text
    assert preview_count(counts, "valid") == rows, "the preview did not accept every row"
    shape = "numbers only" if numbers_only else "Windows-1250, ;"
    print(f"\n{rows:,}-row CSV ({size_mb:.1f} MB, {shape}): upload + full preview"
          f" (checked {'by the worker' if path.stat().st_size > INLINE_BYTES else 'at once'})")
    report("time", seconds, "s", TARGET_PREVIEW_SECONDS, lower_is_better=True)
    report("web process peak memory (VmHWM)", peak_mb, "MB", TARGET_PEAK_MB,
           lower_is_better=True)
    report("worker peak memory (VmHWM)", worker_mb, "MB", TARGET_PEAK_MB,
           lower_is_better=True)


# --- the figures of the push ------------------------------------------------------------


def speed_figures(portal, sandbox, rows):
    """Figure 1: a large import in batches, its numbers each held once, against a bare
    script sending the same batches."""
    pushed = portal.push(rows, first=FIRST_SPEED, batch_size=BATCH_SIZE, name="speed")
    print(f"\n1. Speed: {rows:,} rows in batches of {BATCH_SIZE}, sandbox answering after "
          f"{LATENCY * 1000:.0f} ms, {CONCURRENCY} calls in flight")
    pushed.print_outcomes()
    report("from the click on Send to the last row final", pushed.seconds, "s",
           TARGET_PUSH_SECONDS, lower_is_better=True)
    print(f"  from the job's start to the last row's finished_at: {pushed.sending_seconds:.1f} s"
          f" = {pushed.rate:.0f} rows/s")
    held = Counter(number_digits(record["phone_number"])
                   for record in sandbox_get(sandbox, f"records/{CAMPAIGN}"))
    once = sum(held[str(number)] == 1 for number in range(FIRST_SPEED, FIRST_SPEED + rows))
    report_count("numbers of the file not held exactly once in the sandbox", rows - once)
    template = stored_record_fields(sandbox, FIRST_SPEED)
    clock = CpuClock({"sandbox": portal.pids["sandbox"], "bare script": os.getpid()})
    bare = bare_batches_seconds(sandbox, template, rows, first=FIRST_BARE)
    bare_cpu = clock.spent()
    print(f"  bare script ({CONCURRENCY} threads, requests.Session, batches of {BATCH_SIZE} "
          f"records of {', '.join(template)}, no portal): {bare:.1f} s = {rows / bare:.0f} rows/s")
    report("portal / bare script", pushed.seconds / bare, "x", TARGET_BARE_RATIO,
           lower_is_better=True)
    # What the machine's CPUs allow: a push cannot take less wall time than the CPU time it
    # needs spread over every CPU.
    cpus = len(os.sched_getaffinity(0))
    print(f"  CPU time during the push: {cpu_text(pushed.cpu)}")
    print(f"  CPU time during the bare script: {cpu_text(bare_cpu)}")
    print(f"  on {cpus} CPUs the push's CPU time takes at least "
          f"{pushed.cpu['machine'] / cpus:.1f} s, "
          f"{pushed.cpu['machine'] / cpus / bare:.1f} x the bare script's time")
    return pushed


def single_post_figures(portal, rows, batched):
    """Figure 4: the same push with one POST a row, beside the batches' rate."""
    pushed = portal.push(rows, first=FIRST_SINGLE, batch_size=1, name="single")
    print(f"\n4. For comparison (no target): {rows:,} rows with single POSTs "
          f"(IMPORT_BATCH_SIZE=1), {CONCURRENCY} calls in flight")
    pushed.print_outcomes()
    print(f"  from the click on Send to the last row final: {pushed.seconds:.1f} s; "
          f"from the job's start to the last row's finished_at: {pushed.sending_seconds:.1f} s")
    print(f"  single POSTs: {pushed.rate:.0f} rows/s; batches of {BATCH_SIZE} (figure 1): "
          f"{batched.rate:.0f} rows/s ({batched.rate / pushed.rate:.0f}x)")


def lost_answer_figures(portal, sandbox, rows):
    """Figure 2: an import where each LOST_EVERY-th batch answer is lost after the sandbox
    stored the batch; nothing may end unknown, be sent twice or be held twice."""
    # A fresh sandbox, so its journal holds this figure's requests only; a reset also
    # forgets the latency and the campaigns, which the portal then syncs again.
    sandbox_post(sandbox, "reset")
    sandbox_post(sandbox, "latency", {"seconds": LATENCY})
    manage(portal.env, "shell", "-c", CAMPAIGNS_SYNC)
    sandbox_post(sandbox, "faults", {"kind": "timeout", "every": LOST_EVERY,
                                     "path": "/api/batch/", "delay": LOST_DELAY,
                                     "apply": True})
    pushed = portal.push(rows, first=FIRST_LOST, batch_size=BATCH_SIZE, name="lost",
                         THULIUM_TIMEOUT=str(LOST_TIMEOUT))
    received = sandbox_get(sandbox, "received")
    batch_calls = sum(entry["method"] == "POST" and entry["path"].startswith("/api/batch/")
                      for entry in received)
    listings = sum(entry["method"] == "GET"
                   and entry["path"].startswith(f"/api/outbounds/{CAMPAIGN}/records")
                   for entry in received)
    sent = Counter(number for entry in received for number in posted_numbers(entry))
    held = Counter(number_digits(record["phone_number"])
                   for record in sandbox_get(sandbox, f"records/{CAMPAIGN}"))
    print(f"\n2. Lost answers: {rows:,} rows in batches of {BATCH_SIZE}, 1 batch answer in "
          f"{LOST_EVERY} lost after the sandbox stored it (answered after {LOST_DELAY:.0f} s; "
          f"the worker waits {LOST_TIMEOUT:.0f} s)")
    pushed.print_outcomes()
    report_count("rows unknown", pushed.progress["unknown"])
    report_count("numbers sent twice", sum(count > 1 for count in sent.values()))
    report_count("numbers held twice in the sandbox", sum(count > 1 for count in held.values()))
    print(f"  batch answers lost: {batch_calls // LOST_EVERY} of {batch_calls} batch calls; "
          f"listings of the campaign's records made: {listings}")
    print(f"  from the click on Send to the last row final: {pushed.seconds:.1f} s")
    return pushed


def memory_figures(pushes):
    """Figure 3: the worker's peak memory during the figures that have a target."""
    print("\n3. Memory: the worker's VmRSS, read every 0.5 s")
    for name, pushed in pushes.items():
        hwm = f"{pushed.hwm_mb:.1f} MB" if pushed.hwm_mb is not None else "n/a (it had ended)"
        print(f"  during {name}: peak VmRSS {pushed.peak_rss_mb:.1f} MB, VmHWM at the end {hwm}")
    report("peak VmRSS of the worker", max(p.peak_rss_mb for p in pushes.values()), "MB",
           TARGET_WORKER_MB, lower_is_better=True)


def bare_batches_seconds(sandbox, template, rows, first):
    """Seconds for plain threads to send `rows` rows in batches to the sandbox, no portal:
    what this machine and the sandbox allow now."""
    url = f"{sandbox}/api/batch/outbounds/{CAMPAIGN}/records"
    numbers = range(first, first + rows)
    batches = iter([
        {"records": [{**template, "phone_number": str(n)} for n in numbers[i:i + BATCH_SIZE]]}
        for i in range(0, rows, BATCH_SIZE)
    ])
    lock = threading.Lock()
    failures = []

    def post_all():
        with requests.Session() as session:
            while True:
                with lock:
                    body = next(batches, None)
                if body is None:
                    return
                response = session.post(url, json=body, auth=SANDBOX_AUTH, timeout=30)
                if response.status_code != 200:
                    failures.append(response.status_code)

    started = time.perf_counter()
    threads = [threading.Thread(target=post_all) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"the bare script's batches failed: HTTP {sorted(set(failures))}")
    return seconds


def stored_record_fields(sandbox, number):
    """The fields the portal sent for the file's row of `number`, as the sandbox stored
    them, without its record_id: the bare script sends the same."""
    for record in sandbox_get(sandbox, f"records/{CAMPAIGN}"):
        if number_digits(record["phone_number"]) == str(number):
            return {key: value for key, value in record.items() if key != "record_id"}
    raise RuntimeError(f"the sandbox holds no record of {number}")


def posted_numbers(entry):
    """The phone numbers in a journal entry's POST of records (batch or single); a body
    that was not JSON tells none."""
    body = entry["json"]
    if entry["method"] != "POST" or not isinstance(body, dict):
        return []
    if entry["path"].startswith("/api/batch/"):
        records = body.get("records") if isinstance(body.get("records"), list) else []
    else:
        records = [body] if entry["path"].startswith("/api/outbounds/") else []
    return [number_digits(record["phone_number"]) for record in records
            if isinstance(record, dict) and isinstance(record.get("phone_number"), str)]


def number_digits(number):
    # The file's numbers have nine digits; the portal may send them with +48 in front.
    return re.sub(r"\D", "", number)[-9:]


def sandbox_get(sandbox, name):
    response = requests.get(f"{sandbox}/_sandbox/{name}", timeout=60)
    response.raise_for_status()
    return response.json()


def sandbox_post(sandbox, name, body=None):
    requests.post(f"{sandbox}/_sandbox/{name}", json=body, timeout=60).raise_for_status()


# --- one import pushed by its own worker ------------------------------------------------


@dataclass
class Pushed:
    """What one import's push measured."""

    progress: dict  # progress.json once final
    seconds: float  # from the click on Send to the last row final (progress.json)
    sending_seconds: float  # from the job's start to the last row's finished_at
    peak_rss_mb: float  # the worker's, read every 0.5 s
    hwm_mb: float | None  # the worker's VmHWM at the end, None if it had ended
    cpu: dict  # CPU seconds from the click to the end, by process (see CpuClock)

    @property
    def rate(self):
        return self.progress["added"] / self.sending_seconds

    def print_outcomes(self):
        print(f"  added {self.progress['added']}, refused {self.progress['refused']}, "
              f"failed {self.progress['failed']}, unknown {self.progress['unknown']}")


@dataclass
class Portal:
    """The portal as the bench drives it: a logged-in session, its URL, the environment of
    its processes and the bench's temporary folder."""

    session: requests.Session
    web_url: str
    env: dict
    tmp: Path
    pids: dict  # the sandbox's and the web server's, whose CPU time is told

    def push(self, rows, *, first, batch_size, name, **worker_env):
        """Upload and preview a file of `rows` fresh numbers, start a worker with this batch
        size (and `worker_env`), click Send and wait until every row is final."""
        path = self.tmp / f"{name}.csv"
        write_csv(path, rows, first=first)
        large = path.stat().st_size > INLINE_BYTES
        with checking_worker(self.env, self.tmp, f"{name}-check") if large else nullcontext():
            job_url = upload_and_preview(self.session, self.web_url, path)
        job_id = int(re.search(r"/imports/(\d+)/", job_url).group(1))
        env = {**self.env, "IMPORT_BATCH_SIZE": str(batch_size), **worker_env}
        with process([PYTHON, "manage.py", "run_worker"], env,
                     self.tmp / f"worker-{name}.log") as worker, \
                MemorySampler(worker.pid) as memory:
            time.sleep(3)  # the worker's start-up is not part of the figure
            clock = CpuClock({"worker": worker.pid, **self.pids})
            confirmed = time.perf_counter()
            post(self.session, f"{self.web_url}/imports/{job_id}/confirm/")
            while not (progress := self.session.get(
                    f"{self.web_url}/imports/{job_id}/progress.json").json())["final"]:
                time.sleep(0.5)
            seconds = time.perf_counter() - confirmed
            cpu = clock.spent()
            hwm_mb = proc_status_mb(worker.pid, "VmHWM")
        sending = float(manage(self.env, "shell", "-c", SENDING_SECONDS.format(job_id=job_id))
                        .strip().splitlines()[-1])
        return Pushed(progress, seconds, sending, memory.peak_mb, hwm_mb, cpu)


class CpuClock:
    """CPU seconds spent from its making to `spent()`: by the whole machine (/proc/stat,
    time stolen by the hypervisor left out), by each named process, and by PostgreSQL's
    processes, read every half second: a connection closed before the end (the worker's
    storing thread closes its own as the push ends) still counts."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self.start = self._reading()
        self.postgres = dict(self.start["postgres"])  # the last reading of each process
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def spent(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        end = self._reading()
        self.postgres.update(end["postgres"])
        spent = {name: end[name] - self.start[name] for name in ("machine", *self.pids)}
        spent["PostgreSQL"] = sum(seconds - self.start["postgres"].get(pid, 0.0)
                                  for pid, seconds in self.postgres.items())
        return spent

    def _sample(self):
        while not self._stop.wait(0.5):
            self.postgres.update(postgres_cpu_seconds())

    def _reading(self) -> dict:
        with open("/proc/stat") as stat:
            ticks = [int(value) for value in stat.readline().split()[1:]]
        idle, iowait, steal = ticks[3], ticks[4], ticks[7]
        reading = {"machine": (sum(ticks[:8]) - idle - iowait - steal) / CLOCK_TICKS}
        reading.update({name: process_cpu_seconds(pid) for name, pid in self.pids.items()})
        reading["postgres"] = postgres_cpu_seconds()
        return reading


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid) -> float | None:
    """User and system CPU seconds of a process so far; None once it has ended."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def postgres_cpu_seconds() -> dict[int, float]:
    """CPU seconds so far of each of PostgreSQL's processes, by pid."""
    spent = {}
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or (entry / "comm").read_text().strip() != "postgres":
                continue
        except OSError:  # ended meanwhile
            continue
        if (seconds := process_cpu_seconds(entry.name)) is not None:
            spent[int(entry.name)] = seconds
    return spent


def cpu_text(spent: dict[str, float]) -> str:
    parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in spent.items()
                      if name != "machine")
    return f"{parts}; the whole machine {spent['machine']:.1f} s"


class MemorySampler:
    """The peak VmRSS of a process, read from /proc every half second while in use."""

    def __init__(self, pid):
        self.pid = pid
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _sample(self):
        while True:
            rss = proc_status_mb(self.pid, "VmRSS")
            if rss is not None:
                self.peak_mb = max(self.peak_mb, rss)
            if self._stop.wait(0.5):
                return


def proc_status_mb(pid, field):
    """A memory field of /proc/<pid>/status in MB; None once the process has ended."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return None
    match = re.search(rf"{field}:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else None


SENDING_SECONDS = """
from django.db.models import Max
from imports.models import ImportJob
job = ImportJob.objects.get(pk={job_id})
print((job.rows.aggregate(last=Max("finished_at"))["last"] - job.started_at).total_seconds())
"""


def report(what, value, unit, target, lower_is_better=False):
    met = value <= target if lower_is_better else value >= target
    sign = "<" if lower_is_better else ">="
    print(f"  {what}: {value:.1f} {unit} (target {sign} {target:g} {unit}) "
          f"{'MET' if met else 'NOT MET'}")


def report_count(what, count, target=0):
    print(f"  {what}: {count} (target {target}) {'MET' if count == target else 'NOT MET'}")


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
    """Upload the file and preview it with the proposed mapping; the job's URL, once its
    rows are checked (by a worker, for a file too large to check while the page waits:
    one must be running, `checking_worker`)."""
    with path.open("rb") as file:
        mapping_url = web_url + post(
            session, f"{web_url}/campaigns/00001/records/import/", files={"file": file}
        ).headers["Location"]
    page = session.get(mapping_url).text
    mapping = dict(re.findall(
        r'name="(column_\d+)"[^>]*>.*?<option value="([^"]*)" selected', page, re.S))
    job_url = web_url + post(session, mapping_url, mapping).headers["Location"]
    progress_url = job_url + "progress.json"
    while session.get(progress_url, timeout=60).json()["state"] == "checking":
        time.sleep(0.1)
    return job_url


def preview_count(page, name) -> int:
    """A count of the preview page, whose digits are grouped ("450,000")."""
    shown = re.search(rf'data-count="{name}">([^<]*)<', page).group(1)
    return int(re.sub(r"\D", "", shown))


@contextmanager
def checking_worker(env, tmp, name):
    """A worker for the checks of large files' rows, started (and given the time to start)
    before the figure that needs it; yields its pid."""
    with process([PYTHON, "manage.py", "run_worker"], env, tmp / f"worker-{name}.log") as worker:
        time.sleep(3)  # the worker's start-up is not part of a figure
        yield worker.pid


def write_csv(path, rows, first, numbers_only=False):
    with path.open("w", encoding="cp1250", newline="") as file:
        if numbers_only:
            file.write("Nr telefonu\r\n")
            file.writelines(f"{first + n}\r\n" for n in range(rows))
            return
        file.write("Nr telefonu;Imię;Nazwisko;Miasto\r\n")
        for n in range(rows):
            file.write(f"{first + n};Zofia;Wiśniewska-Dąbrowska;Łódź\r\n")


@contextmanager
def web_server(env, tmp):
    """gunicorn with one worker process; yields its URL and the worker's pid."""
    port = free_port()
    command = [PYTHON, "-m", "gunicorn", "portal.wsgi", "--workers", "1", "--bind",
               f"127.0.0.1:{port}", "--timeout", "300"]
    with process(command, env, tmp / "web.log") as master:
        wait_for_port(port)
        # The master listens before it forks its worker: wait for the worker too.
        children = Path(f"/proc/{master.pid}/task/{master.pid}/children")
        deadline = time.monotonic() + 30
        while not children.read_text().split() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", int(children.read_text().split()[0])


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
