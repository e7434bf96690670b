"""The do-not-call list at a million entries: a single addition's check, and what the check
adds to a 100,000-row import preview.

    python bench/bench_donotcall.py [--db sqlite|postgres] [--entries 1000000] [--rows 100000]

It uses its own database, never the portal's: an SQLite file in a temporary folder, or the
PostgreSQL database `portal_bench_donotcall` on 127.0.0.1 (made afresh, dropped at the
end). Entries are written as the list holds them (the number's keyed digest); the checks
are timed through the one lookup every send uses (donotcall.lookup.blocked), the preview's
in the preview's own batches. Figures are printed beside their targets.
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
    from imports.services import PREVIEW_BATCH

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
        ("peak memory of this process (the list written and checked)", peak, "MB",
         TARGETS["peak_mb"]),
    ]
    for label, value, unit, target in figures:
        judged = (f"(target < {target:g} {unit}) {'ok' if value < target else 'OVER'}"
                  if target else "")
        print(f"  {label:62} {value:9.2f} {unit:3} {judged}")


if __name__ == "__main__":
    main()
