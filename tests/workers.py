"""Real worker processes (`manage.py run_worker`) for the import tests, and killing them.

A worker sees the test database (PostgreSQL, or the SQLite test file) and the session's
sandbox on its port. Without a database or Redis it can reach, the test skips with the
reason, except under CI, where it fails.
"""

import os
import signal
import time
from pathlib import Path
from subprocess import TimeoutExpired
from urllib.parse import urlsplit

import pytest
from django.db import connection

from imports.models import ImportJob
from tests.fork_server import ForkServer, Started

BASE_DIR = Path(__file__).resolve().parent.parent
# The import tests' own Redis database, which they empty: another one where several
# engineers share the server (TEST_REDIS_URL=redis://127.0.0.1:6379/6).
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
RQ_BACKEND = {"BACKEND": "django_tasks_rq.RQBackend"}
DB_BACKEND = {"BACKEND": "django_tasks_db.DatabaseBackend"}
# Short leases so a killed worker's rows are taken over within seconds.
WORKER_SETTINGS = {
    "IMPORT_CONCURRENCY": "4",
    "IMPORT_BATCH_SIZE": "10",
    "IMPORT_LEASE_SECONDS": "2",
    "IMPORT_HEARTBEAT_SECONDS": "0.3",
    "IMPORT_RETRY_WAIT": "0.05",
    "IMPORT_RETRY_MAX_WAIT": "0.2",
    "IMPORT_OUTAGE_MAX_WAIT": "0",
    "THULIUM_TIMEOUT": "1",
    "THULIUM_CONNECT_TIMEOUT": "1",
}
# Each worker a process of its own, forked from a server that imported Django and the
# libraries once (tests/fork_server.py): the portal's modules and settings read afresh.
PYTHON = ForkServer(os.environ)


def unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the worker tests: {reason}")
    pytest.skip(reason)


def database_url() -> str:
    """The URL of the test database, as a worker process must be told it."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(db["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            unavailable("the SQLite test database is in memory: a worker cannot see it")
        return f"sqlite:///{name}"
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    unavailable(f"worker tests do not know the database engine {db['ENGINE']}")


def require_redis():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        unavailable(f"Redis at {REDIS_URL} cannot be reached: {error}")


class Workers:
    """Starts worker processes against the sandbox; kills what it started at the end."""

    def __init__(self, sandbox, backend: str, log_dir: Path):
        self.env = {
            key: value for key, value in os.environ.items()
            if key not in ("TEST_DATABASE_URL", "THULIUM_API_URL")
        }
        self.env.update(WORKER_SETTINGS)
        self.env.update({
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "THULIUM_SANDBOX_PORT": str(urlsplit(sandbox.url).port),
            "TASK_BACKEND": backend,
            "RQ_REDIS_URL": REDIS_URL,
        })
        self.log_dir = log_dir
        self.started: list[Started] = []

    def start(self) -> Started:
        name = f"worker-{len(self.started) + 1}"
        # In a process group of its own, so a kill takes the worker's children with it.
        process = PYTHON.start(["manage.py", "run_worker", "--worker-id", name],
                               cwd=BASE_DIR, env=self.env, output=self.log_dir / f"{name}.log")
        self.started.append(process)
        return process

    @staticmethod
    def kill(process: Started) -> None:
        """SIGKILL to its whole group: no clean-up, no last words, as when a machine dies."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # the group is gone already
        process.wait()

    def exit_code(self, process: Started, *, seconds: float = 60) -> int:
        """The process's exit code once it ends; fails with the workers' logs if it does
        not end in time."""
        try:
            return process.wait(timeout=seconds)
        except TimeoutExpired:
            pytest.fail(f"worker {process.pid} did not end within {seconds} s\n{self.logs()}")

    def stop_all(self) -> None:
        """Kill what was started, even a group whose first process already ended."""
        for process in self.started:
            self.kill(process)

    def log(self, process: Started) -> str:
        name = f"worker-{self.started.index(process) + 1}.log"
        return (self.log_dir / name).read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
                         for path in sorted(self.log_dir.glob("worker-*.log")))


def wait_until(condition, *, workers: Workers | None, seconds: float = 120,
               what: str = "") -> None:
    """Poll until `condition()` holds; fail with the workers' logs if it never does."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}\n{workers.logs() if workers else ''}")
        time.sleep(0.1)


def finished(job: ImportJob):
    def check():
        return ImportJob.objects.get(pk=job.pk).is_final

    return check
