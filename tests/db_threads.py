"""Database work in threads of a test, for the tests of what two writers do at once
(PostgreSQL's row locks): each thread on its own connection, and a way to know that one
waits for a lock without sleeping for it."""

import copy
import threading
import time
from functools import partial

from django.db import connection
from django.test import Client


def closing(work, failures: list | None = None):
    """`work` for a thread, which closes the thread's own database connection after it;
    with `failures`, what it raised is kept there for the test to see (a thread's error
    does not fail the test)."""
    def run():
        try:
            work()
        except Exception as error:
            if failures is None:
                raise
            failures.append(error)
        finally:
            connection.close()
    return run


def all_at_once(works: list) -> None:
    """Run each of `works` on a thread of its own (its own database connection), and fail
    the test with whatever any of them raised."""
    failures = []
    threads = [threading.Thread(target=closing(work, failures)) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


def posted_at_once(session: Client, path: str, forms: list[dict], **extra) -> list[int]:
    """The statuses of `forms` posted to `path` all at once, each from a tab of `session`
    (its cookies), in the order they ended."""
    start = threading.Barrier(len(forms), timeout=30)
    statuses = []

    def post(form):
        tab = Client()
        tab.cookies = copy.deepcopy(session.cookies)
        start.wait()
        statuses.append(tab.post(path, form, **extra).status_code)

    all_at_once([partial(post, form) for form in forms])
    return statuses


def connected_pid() -> int:
    """The PostgreSQL backend of this thread's connection."""
    connection.ensure_connection()
    return connection.connection.info.backend_pid


def until_waiting_for_a_lock_or_done(thread, pid_found: list[int]) -> None:
    """Return once the thread's database session waits for a lock, or the thread ended."""
    deadline = time.monotonic() + 30
    while thread.is_alive() and time.monotonic() < deadline:
        if pid_found:
            with connection.cursor() as cursor:
                cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                               [pid_found[0]])
                if cursor.fetchone() == ("Lock",):
                    return
        thread.join(0.01)


def tables_locked(pid: int) -> set[str]:
    """The tables a PostgreSQL session holds locks on."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relation::regclass::text FROM pg_locks WHERE pid = %s AND "
                       "granted AND locktype = 'relation'", [pid])
        return {table for (table,) in cursor.fetchall()}
