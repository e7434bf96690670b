"""The call's deadline: a call to Thulium ends once THULIUM_CONNECT_TIMEOUT + THULIUM_TIMEOUT
have passed, however slowly the answer comes.

requests' timeouts bound each wait, not the call: a status line, headers or body sent a
little at a time kept a call open for as long as the server liked. gunicorn's timeout, the
bulk change, leases and the worker's stop grace all count on a call lasting at most that
(docs/operations.md). http.client reads the status line and headers where no deadline can
be checked between reads, so a timer shuts the call's connection down when the deadline
passes: every wait then ends at once, on TLS as on plain TCP, the connection new or kept
alive.
"""

import datetime
import socket
import threading

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

# The deadline of the call the thread is making, which its connection pools report to.
_calls = threading.local()
# What requests raises for urllib3's failures while reading a body, as its iter_content does
# (but a read that timed out is a timeout: no answer in time).
_AS_REQUESTS_RAISES = {
    ReadTimeoutError: requests.ReadTimeout,
    ProtocolError: requests.exceptions.ChunkedEncodingError,
    DecodeError: requests.exceptions.ContentDecodingError,
    SSLError: requests.exceptions.SSLError,
}


def call_longest() -> datetime.timedelta:
    """The longest a call to Thulium made now can last: its deadline, as the settings are at
    the time (tests change them). Leases, cut-offs and time limits that wait for a call count
    from it, each with its own margin."""
    return datetime.timedelta(seconds=settings.THULIUM_CONNECT_TIMEOUT
                              + settings.THULIUM_TIMEOUT)


class CallDeadline:
    """`with CallDeadline(seconds):` around one call. When the seconds pass before the block
    ends, the connection it uses is shut down, and the block raises requests' ReadTimeout
    in place of what it returned or what requests raised (the connection closed, so that
    the pool opens a new one for the next call)."""

    def __init__(self, seconds: float):
        self._timer = threading.Timer(seconds, self._pass)
        self._timer.daemon = True
        self._lock = threading.Lock()  # the timer's thread against the caller's
        self._connection = None
        self._passed = self._ended = False

    def __enter__(self):
        _calls.deadline = self
        self._timer.start()

    def __exit__(self, exc_type, exc, traceback):
        with self._lock:
            self._ended = True
        self._timer.cancel()
        _calls.deadline = None
        if self._passed and (exc is None or isinstance(exc, requests.RequestException)):
            if self._connection is not None:
                self._connection.close()
            raise requests.ReadTimeout("the answer did not end by the call's deadline") from None
        return False

    def watch(self, connection) -> None:
        """Take the connection the call is about to use (the next one, after a redirect).
        Raises TimeoutError once the deadline has passed: no connection is used after it."""
        with self._lock:
            if self._passed:
                connection.close()
                raise TimeoutError("the call's deadline has passed")
            self._connection = connection

    def _pass(self) -> None:
        with self._lock:
            if self._ended:
                return
            self._passed = True
            # None before the call's first connection, or while it is still being opened
            # (which its connect timeout bounds).
            sock = getattr(self._connection, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed or reset: nothing is waiting on it


class _WatchedPool:
    """A connection pool that hands each connection it gives a call to the call's deadline."""

    def _get_conn(self, timeout=None):
        connection = super()._get_conn(timeout)
        deadline = getattr(_calls, "deadline", None)
        if deadline is not None:
            deadline.watch(connection)
        return connection


class _WatchedHTTPPool(_WatchedPool, HTTPConnectionPool):
    pass


class _WatchedHTTPSPool(_WatchedPool, HTTPSConnectionPool):
    pass


_WATCHED = {HTTPConnectionPool: _WatchedHTTPPool, HTTPSConnectionPool: _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter whose pools, direct or through a proxy, report to the deadline."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        _watch_pools_of(self.poolmanager)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        _watch_pools_of(manager)
        return manager


def _watch_pools_of(manager) -> None:
    # Pools of any other kind (a SOCKS proxy's) are left as they are.
    manager.pool_classes_by_scheme = {
        scheme: _WATCHED.get(pool, pool) for scheme, pool in manager.pool_classes_by_scheme.items()
    }


def read_body(response: requests.Response) -> None:
    """Read a streamed answer's body into `response.content` inside the call, so that its
    deadline bounds it too. Raises what requests raises for a body cut off or undecodable,
    and requests' ReadTimeout for a wait longer than the read timeout (requests would call
    it a broken connection)."""
    try:
        response._content = response.raw.read(decode_content=True)
    except tuple(_AS_REQUESTS_RAISES) as exc:
        response.close()  # the body is not all read: its connection cannot serve another call
        ours = next(ours for theirs, ours in _AS_REQUESTS_RAISES.items()
                    if isinstance(exc, theirs))
        raise ours(exc) from None
    response._content_consumed = True
