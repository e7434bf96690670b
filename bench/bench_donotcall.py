"""The do-not-call list at a million entries: a single addition's check, what the check
adds to a 100,000-row import preview, and a real web process's memory through that preview.

    python bench/bench_donotcall.py [--db sqlite|postgres] [--entries 1000000] [--rows 100000]

It uses its own database, never the portal's: an SQLite file in a temporary folder, or the
PostgreSQL database `portal_bench_donotcall` on 127.0.0.1 (made afresh, dropped at the
end). Entries are written as the list holds them (the number's keyed digest); the checks
are timed through the one lookup every send uses (donotcall.lookup.blocked), the preview's
in the preview's own batches. Then gunicorn (one worker) and the sandbox serve the portal on
the same database, and a 100,000-row file is uploaded and previewed over HTTP: the figure
is that worker's peak memory (VmHWM). Figures are printed beside their targets.
"""

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432"
POSTGRES_NAME = "portal_bench_donotcall"
TARGETS = {"single_ms": 2.0, "preview_s": 3.0, "peak_mb": 300.0}
SINGLE_CHECKS = 1000
INSERT_BATCH = 10_000
FIRST = 48_500_000_000  # the listed numbers' keys: 48500000000, 48500000001, ...


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-donotcall-") as tmp:
        _configure(args.db, Path(tmp))
        from django.test.utils import setup_databases, teardown_databases
        # The test runner's database set-up: a fresh database, migrated, dropped after.
        databases = setup_databases(verbosity=0, interactive=False)
        try:
            _run(args)
        finally:
            teardown_databases(databases, verbosity=0)


def _configure(db: str, tmp: Path):
    """Point Django at the bench database before anything imports the models."""
    sys.path.insert(0, str(ROOT))
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    os.environ.pop("TEST_DATABASE_URL", None)
    if db == "postgres":
        os.environ["TEST_DATABASE_URL"] = f"{POSTGRES_SERVER}/{POSTGRES_NAME}"
    os.environ.update({"DJANGO_SETTINGS_MODULE": "tests.settings",
                       "TEST_SQLITE_NAME": str(tmp / "bench.sqlite3"), "DEBUG": "false",
                       "AUDIT_PII_KEY": "bench-only-not-secret"})
    import django
    django.setup()


def _run(args):
    from django.db import connection, transaction

    from audit.personal import digest
    from campaigns.models import Campaign
    from donotcall.lookup import blocked
    from donotcall.models import Suppression
    from imports.previewing import PREVIEW_BATCH

    campaign = Campaign.objects.create(thulium_id="00001", name="Bench")
    started = time.perf_counter()
    table = connection.ops.quote_name(Suppression._meta.db_table)
    insert = (f"INSERT INTO {table} (digest, phone_key, reason, note, source, "
              "added_by_username, created_at) VALUES (%s, %s, 'request', '', 'upload', "
              "'bench', CURRENT_TIMESTAMP)")
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, args.entries, INSERT_BATCH):
            keys = [str(FIRST + n) for n in range(start, min(args.entries, start + INSERT_BATCH))]
            cursor.executemany(insert, [(digest(key), key) for key in keys])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"\nDo-not-call bench: {connection.vendor}, {Suppression.objects.count():,} entries "
          f"(written in {time.perf_counter() - started:.0f} s); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    single = []
    for n in range(SINGLE_CHECKS):
        # Half listed, half not: a number missing from the index costs as much to tell.
        key = str(FIRST + n * 997 % args.entries) if n % 2 else str(FIRST - 1 - n)
        begun = time.perf_counter()
        blocked(campaign, [key])
        single.append((time.perf_counter() - begun) * 1000)

    # A file of which one number in ten is listed, checked in the preview's batches.
    rows = [str(FIRST + n if n % 10 == 0 else FIRST - 1 - n) for n in range(args.rows)]
    begun = time.perf_counter()
    found = 0
    for start in range(0, len(rows), PREVIEW_BATCH):
        found += len(blocked(campaign, rows[start:start + PREVIEW_BATCH]))
    preview = time.perf_counter() - begun
    assert found == args.rows // 10, found
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    figures = [
        (f"single addition's check (median of {SINGLE_CHECKS})", statistics.median(single),
         "ms", TARGETS["single_ms"]),
        # A shared machine's hiccups land here: printed, not judged.
        ("single addition's check (99th percentile)", sorted(single)[int(0.99 * len(single))],
         "ms", None),
        (f"check added to a {args.rows:,}-row preview ({found:,} listed)", preview, "s",
         TARGETS["preview_s"]),
        ("peak memory of this process (the list written and checked)", peak, "MB", None),
    ]
    figures += _web_figures(args, connection.settings_dict["NAME"])
    for label, value, unit, target in figures:
        judged = (f"(target < {target:g} {unit}) {'ok' if value < target else 'OVER'}"
                  if target else "")
        print(f"  {label:62} {value:9.2f} {unit:3} {judged}")


def _web_figures(args, database_name: str) -> list[tuple]:
    """Upload and preview a file through gunicorn on the bench database (one number in
    ten listed): the web worker's peak memory, and the whole preview's time."""
    import bench_import as web

    url = (f"{POSTGRES_SERVER}/{database_name}" if os.environ.get("TEST_DATABASE_URL")
           else f"sqlite:///{database_name}")
    env = {**web.bench_env(url), "AUDIT_PII_KEY": os.environ["AUDIT_PII_KEY"]}
    tmp = Path(os.path.dirname(os.environ["TEST_SQLITE_NAME"]))
    web.manage(env, "collectstatic", "--noinput", "-v0")
    web.manage(env, "shell", "-c", web.SETUP)
    path = tmp / "preview.csv"
    with path.open("w", encoding="cp1250", newline="") as file:
        file.write("Nr telefonu;Imię\r\n")
        for n in range(args.rows):
            # 48500000000 + n is listed for n below --entries; 48450000000 + n never is (a
            # number of the Polish plan, as the record form requires).
            file.write(f"{(500_000_000 if n % 10 == 0 else 450_000_000) + n};Zofia\r\n")
    sandbox_port = env["THULIUM_SANDBOX_PORT"]
    with web.process([web.PYTHON, "manage.py", "run_sandbox", "--port", sandbox_port], env,
                     tmp / "sandbox.log"), web.web_server(env, tmp) as (web_url, web_pid):
        web.wait_for_port(int(sandbox_port))
        web.manage(env, "shell", "-c", web.CAMPAIGNS_SYNC)
        session = web.login(web_url)
        begun = time.perf_counter()
        job_url = web.upload_and_preview(session, web_url, path)
        seconds = time.perf_counter() - begun
        peak = web.proc_status_mb(web_pid, "VmHWM")
        page = session.get(job_url).text
    listed = min(args.entries, args.rows) // 10
    assert web.preview_count(page, "suppressed") == listed, "the preview missed listed rows"
    return [(f"upload + full preview of {args.rows:,} rows through gunicorn", seconds, "s",
             None),
            ("peak memory of the web worker (VmHWM) through it", peak, "MB",
             TARGETS["peak_mb"])]


if __name__ == "__main__":
    main()
