"""Reading the database within a deadline, for answers that must come in time (a scrape).

A connection kept for the next request, to a database (or a pgbouncer) that stopped
answering on it, holds whatever reads on it until TCP gives up, which it never does while
the other end's kernel acknowledges every byte. Such a read runs instead in a thread of
its own, on that thread's own connection (opened for it, so bounded by connect_timeout,
and closed after it), and is given up past its deadline. A read given up goes on in its
thread until the database answers or fails; at most READERS run at once, so a database
gone silent holds no more of the process's threads and connections than that.
"""

import contextlib
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError, connection

# Two: Prometheus often runs as a pair of servers, each scraping every machine.
READERS = 2
THREAD_NAME = "portal-db-read"

_readers = threading.BoundedSemaphore(READERS)
T = TypeVar("T")


def read_within(read: Callable[[], T], *, seconds: float) -> T:
    """What `read()` returns, or raises, read on a connection of its own; TimeoutError past
    `seconds`, or when READERS earlier reads still wait for the database as long."""
    ends = time.monotonic() + seconds
    if not _readers.acquire(timeout=seconds):
        raise TimeoutError(f"{READERS} reads still wait for the database")
    outcome = {}

    def run():
        try:
            outcome["value"] = read()
        except BaseException as error:  # handed to the caller, if it still waits
            outcome["error"] = error
        finally:
            with contextlib.suppress(DatabaseError):  # one the read found broken
                connection.close()
            _readers.release()

    reader = threading.Thread(target=run, name=THREAD_NAME, daemon=True)
    reader.start()
    reader.join(max(ends - time.monotonic(), 0))
    if reader.is_alive():
        raise TimeoutError(f"the database did not answer within {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
