"""Record additions under gunicorn on PostgreSQL, with the sandbox answering after 50 ms.

Standalone: makes its own database (portal_bench_prod), starts the sandbox in its own
process and gunicorn with 4 workers, then measures
- the baseline: one user alone submitting the record form (median of its answers);
- 50 users, each logged in with its own session, submitting record additions together
  for 60 s (each pausing --think seconds between submissions, as a person would).
A submission is the form's POST up to its answer (the redirect to the campaign).
Target: no error, and a median within 1.3x the baseline. Figures depend on the machine.
"""

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from support import MAKE_USERS, percentile, start_sandbox  # noqa: E402

from tests.production.processes import (  # noqa: E402
    POSTGRES_SERVER,
    REDIS_SERVER,
    Gunicorn,
    PostgresDatabase,
    Visitor,
    manage,
    page_forms,
    production_env,
    unreachable_reason,
)

DATABASE = "portal_bench_prod"
CAMPAIGN = "00001"
FORM = f"/campaigns/{CAMPAIGN}/records/new/"
PASSWORD = "a-long-bench-password"
TARGET_RATIO = 1.3
BASELINE_SUBMISSIONS = 40
# Every submission needs a number Thulium has not seen: 9 digits, counted up.
_numbers = itertools.count(500_000_000)

class User:
    """One logged-in person with the record form open, ready to submit it again and again."""

    def __init__(self, url: str, username: str):
        self.visitor = Visitor(url)
        self.visitor.log_in(username, PASSWORD)
        page = self.visitor.get(FORM).text
        self.fields = next(f for f in page_forms(page) if "phone_number" in f["fields"])["fields"]

    def submit(self) -> tuple[float, str | None]:
        """Seconds until the answer, and what went wrong (None when the record was added)."""
        data = {**self.fields, "phone_number": str(next(_numbers))}
        started = time.perf_counter()
        try:
            response = self.visitor.post(FORM, data)
        except Exception as error:  # a benchmark counts every failure, whatever its kind
            return time.perf_counter() - started, f"{type(error).__name__}: {error}"
        elapsed = time.perf_counter() - started
        if response.status_code != 302 or response.headers["Location"] != f"/campaigns/{CAMPAIGN}/":
            return elapsed, f"HTTP {response.status_code}"
        return elapsed, None


def load(users: list[User], seconds: float, think: float):
    """All users submitting together until time is up: [(seconds, error or None)]."""
    results, lock = [], threading.Lock()
    deadline = time.monotonic() + seconds

    def run(user: User):
        while time.monotonic() < deadline:
            outcome = user.submit()
            with lock:
                results.append(outcome)
            time.sleep(think)

    threads = [threading.Thread(target=run, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=1.0,
                        help="pause of each user between submissions (s)")
    parser.add_argument("--latency", type=float, default=0.05, help="sandbox latency (s)")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    reason = unreachable_reason(POSTGRES_SERVER)
    if reason:
        sys.exit(f"the bench needs PostgreSQL at 127.0.0.1:5432: {reason}")
    database = PostgresDatabase(DATABASE, POSTGRES_SERVER).create()
    cache = "redis" if unreachable_reason(REDIS_SERVER) is None else "database"
    static = tempfile.TemporaryDirectory()
    env = production_env(
        DATABASE_URL=database.url, CONN_MAX_AGE="60", STATIC_ROOT=static.name,
        CACHE_URL=REDIS_SERVER if cache == "redis" else "dbcache://portal_cache",
        CACHE_KEY_PREFIX=f"bench-{uuid.uuid4().hex}",
    )
    sandbox, port = start_sandbox(env, args.latency)
    env["THULIUM_SANDBOX_PORT"] = str(port)
    try:
        for command in (["collectstatic", "--noinput"], ["migrate", "--noinput"],
                        ["createcachetable"]):
            manage(env, *command)
        manage(env, "shell", "-c", MAKE_USERS.format(password=PASSWORD, count=args.users))
        with Gunicorn(env, workers=args.workers, threads=4) as portal:
            first = Visitor(portal.url)
            first.log_in("bench00", PASSWORD)
            first.submit("/campaigns/", {}, action="/campaigns/sync/")
            users = [User(portal.url, f"bench{i:02d}") for i in range(args.users)]

            users[0].submit()  # warms the worker's connections and the cached statuses
            alone = [users[0].submit() for _ in range(BASELINE_SUBMISSIONS)]
            results = load(users, args.seconds, args.think)
        report(args, cache, alone, results)
    finally:
        sandbox.terminate()
        sandbox.wait()
        database.drop()
        static.cleanup()


def report(args, cache: str, alone, results):
    baseline = statistics.median(seconds for seconds, _ in alone)
    errors = [error for _, error in results + alone if error]
    times = [seconds for seconds, error in results if not error]
    median = statistics.median(times) if times else float("nan")
    ratio = median / baseline
    print(f"gunicorn {args.workers} workers x 4 threads, PostgreSQL, cache in {cache}, "
          f"sandbox latency {args.latency * 1000:.0f} ms")
    print(f"baseline: 1 user alone, {len(alone)} submissions: median {baseline * 1000:.1f} ms")
    print(f"load: {args.users} users for {args.seconds:.0f} s, {args.think:.1f} s pause each: "
          f"{len(results)} submissions ({len(results) / args.seconds:.1f}/s), "
          f"{len(errors)} errors")
    for error in sorted(set(errors))[:5]:
        print(f"  error: {error}")
    if times:
        print(f"median {median * 1000:.1f} ms = {ratio:.2f}x baseline "
              f"(target <= {TARGET_RATIO}x: {'met' if ratio <= TARGET_RATIO else 'MISSED'}); "
              f"p90 {percentile(times, 0.90) * 1000:.1f} ms; "
              f"p99 {percentile(times, 0.99) * 1000:.1f} ms; max {max(times) * 1000:.1f} ms")
    if errors:
        sys.exit("some submissions failed")


if __name__ == "__main__":
    main()
