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


def named_threads(works: dict) -> tuple[dict, list, dict]:
    """A thread (not started) for each of `works`, by name, each on a connection of its
    own; what they raise, and their PostgreSQL sessions (`connected_pid`), by name."""
    failures, pids = [], {name: [] for name in works}

    def thread(name):
        def work():
            pids[name].append(connected_pid())
            works[name]()
        return threading.Thread(target=closing(work, failures), name=name)

    return {name: thread(name) for name in works}, failures, pids


def paused(monkeypatch, owner, name: str, *, after: bool = False,
           on_thread: str | None = None) -> tuple[threading.Event, threading.Event]:
    """Make `owner.name` stop before it runs (or `after`), on the thread named `on_thread`
    (any if None), until the test lets it go on: returns the events (reached, go_on)."""
    reached, go_on = threading.Event(), threading.Event()
    original = getattr(owner, name)

    def stop_here():
        reached.set()
        assert go_on.wait(30)

    def stopping(*args, **kwargs):
        here = on_thread in (None, threading.current_thread().name)
        if here and not after:
            stop_here()
        done = original(*args, **kwargs)
        if here and after:
            stop_here()
        return done

    monkeypatch.setattr(owner, name, stopping)
    return reached, go_on


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


def started_until(thread: threading.Thread, reached: threading.Event) -> None:
    """Start the thread, and return once it reached its pause (`paused`)."""
    thread.start()
    assert reached.wait(30)


def ended_once_waiting(threads: dict, pids: dict, waiting: str,
                       go_on: threading.Event) -> None:
    """Once the thread named `waiting` waits for a lock (or ended), let the paused one go
    on (`go_on`), and return when all `threads` (`named_threads`) ended."""
    until_waiting_for_a_lock_or_done(threads[waiting], pids[waiting])
    go_on.set()
    for thread in threads.values():
        thread.join(30)
