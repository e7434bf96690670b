"""Scheduled changes (issue 12): the delay from a change's time to Thulium's answer, with a
real worker process.

    .venv/bin/python bench/bench_schedule.py [--changes 8] [--spacing 7]

The sandbox and one `manage.py run_worker` (SCHEDULE_POLL_SECONDS at its default, 10) run
as separate processes, as in production, on the bench's own SQLite database in a temporary
folder. --changes changes to the sandbox's campaigns are scheduled, the first 15 s ahead
and each next --spacing seconds later, so their times fall at every point of the worker's
polling cycle. The delay of each is from its time to the completion of its call's audit
entry (Thulium answered); the target is 60 s for every one. Timings on a shared machine vary.
"""

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_import import BASE_DIR, PYTHON, bench_env, manage, process, wait_for_port

# This checkout's apps, not those of another one the virtualenv may have installed.
sys.path.insert(0, str(BASE_DIR))

TARGET_SECONDS = 60.0
FIRST_AHEAD = 15.0
CAMPAIGNS = ("00001", "00002", "A7K2Q")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=8)
    parser.add_argument("--spacing", type=float, default=7.0)
    args, _unknown = parser.parse_known_args()
    with tempfile.TemporaryDirectory(prefix="bench-schedule-") as tmp:
        env = bench_env(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        manage(env, "collectstatic", "--noinput", "-v0")  # manage.py refuses to start without
        manage(env, "migrate", "--noinput", "-v0")
        os.environ.update(env)
        import django

        django.setup()
        port = env["THULIUM_SANDBOX_PORT"]
        with process([PYTHON, "manage.py", "run_sandbox", "--port", port], env,
                     Path(tmp) / "sandbox.log"):
            wait_for_port(int(port))
            changes = _schedule(args.changes, args.spacing)
            with process([PYTHON, "manage.py", "run_worker", "--worker-id", "bench"], env,
                         Path(tmp) / "worker.log"):
                delays = _delays(changes)
    _report(delays, len(changes))


def _schedule(count: int, spacing: float) -> list:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from campaigns.models import Campaign
    from campaigns.reading import campaigns_sync
    from campaigns.scheduling import change_schedule

    campaigns_sync()
    user = get_user_model().objects.create_user("bench", password="bench-only-not-secret")
    start = timezone.now() + datetime.timedelta(seconds=FIRST_AHEAD)
    return [
        change_schedule(
            campaign=Campaign.objects.get(thulium_id=CAMPAIGNS[n % len(CAMPAIGNS)]),
            changes={"order": 10 + n}, actor=user, reason="bench",
            apply_at=start + datetime.timedelta(seconds=n * spacing),
        )
        for n in range(count)
    ]


def _delays(changes: list) -> list[float]:
    """Seconds from each change's time to its call's answer, once the worker finished all."""
    from campaigns.models import ScheduledChange

    deadline = time.monotonic() + FIRST_AHEAD + len(changes) * 10 + 2 * TARGET_SECONDS
    pending = ScheduledChange.objects.filter(
        state__in=(ScheduledChange.State.WAITING, ScheduledChange.State.APPLYING))
    while pending.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    done = ScheduledChange.objects.filter(state=ScheduledChange.State.APPLIED,
                                          pk__in=[change.pk for change in changes])
    return [(change.sent_change.completed_at - change.apply_at).total_seconds()
            for change in done.select_related("sent_change")]


def _report(delays: list[float], scheduled: int) -> None:
    print(f"scheduled changes applied: {len(delays)} of {scheduled} "
          f"(worker polling every 10 s, the default)")
    if not delays:
        sys.exit("no scheduled change was applied")
    print(f"delay from due time to applied: median {statistics.median(delays):.1f} s, "
          f"max {max(delays):.1f} s, min {min(delays):.1f} s "
          f"(target: every one under {TARGET_SECONDS:.0f} s)")
    print("each: " + ", ".join(f"{delay:.1f}" for delay in delays))
    if len(delays) < scheduled or max(delays) >= TARGET_SECONDS:
        sys.exit("a scheduled change was not applied within the target")


if __name__ == "__main__":
    main()
