"""What the benchmarks share: a sandbox process, bench users, percentiles."""

import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.production.processes import REPO, unreachable_reason  # noqa: E402

# Users who may edit campaigns and add records, as the bench's submissions need.
MAKE_USERS = """
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
User = get_user_model()
password = make_password({password!r})
users = User.objects.bulk_create([User(username=f"bench{{i:02d}}", password=password)
                                  for i in range({count})])
for group in Group.objects.filter(name__in=["Campaign editors", "Record loaders"]):
    group.user_set.add(*users)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_sandbox(env: dict, latency: float) -> tuple[subprocess.Popen, int]:
    """The bundled sandbox in its own process, as the portal would meet Thulium."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_sandbox", "--port", str(port),
         "--latency", str(latency)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while unreachable_reason(f"http://127.0.0.1:{port}") and time.monotonic() < deadline:
        time.sleep(0.1)
    return process, port


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
