"""The worker's own scrape: `/metrics` on WORKER_METRICS_PORT, for the holder of METRICS_TOKEN.

The worker serves no page of the portal, so the web's `/metrics` never sees its calls to
Thulium, and an import's are most of them. With WORKER_METRICS_PORT set, `run_worker`
answers Prometheus on that port itself, with this process's counters under the same token
rules as the web's page; the values read from the database stay on the web's page.
"""

import io
import logging
import socket
import threading
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from . import instruments
from .page import PATH, refusal

log = logging.getLogger(__name__)


class _Deadline(socket.SocketIO):
    """A connection's reads, sharing one time limit: a timeout per read let a client that
    sends a byte every few seconds keep its connection, and its thread, as long as it
    liked."""

    def __init__(self, connection: socket.socket, seconds: float):
        super().__init__(connection, "rb")
        self._ends = time.monotonic() + seconds

    def readinto(self, buffer):
        left = self._ends - time.monotonic()
        if left <= 0:
            raise TimeoutError("the connection's time is up")
        self._sock.settimeout(left)
        return super().readinto(buffer)


class _Quiet(WSGIRequestHandler):
    """No line on stderr per scrape: the worker's log is for its work."""

    # Seconds a connection has to send its request: a port check or a scraper gone
    # half-way, silent or trickling, lets go of its thread after this.
    timeout = 10

    def setup(self):
        super().setup()
        self.rfile.close()
        self.rfile = io.BufferedReader(_Deadline(self.connection, self.timeout))

    def handle(self):
        try:
            super().handle()
        except TimeoutError:  # out of time: nothing to answer, nor a traceback
            pass

    def log_message(self, format, *args):
        pass


class _Threading(ThreadingMixIn, WSGIServer):
    """A thread per connection, `connections` at most: one that idles (a load balancer's
    port check, a scrape cut half-way) held wsgiref's only one, and every scrape waited
    behind it; uncapped, a client opening connections could start threads without end."""

    daemon_threads = True
    # Prometheus scrapes over one or two at a time.
    connections = 8

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._free = threading.BoundedSemaphore(self.connections)

    def process_request(self, request, client_address):
        # Waiting here leaves the connections to come in the listening socket's queue, no
        # thread started; every connection holding a thread lets it go within its time.
        if not self._free.acquire(timeout=self.RequestHandlerClass.timeout):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._free.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._free.release()


def worker_metrics(environ, start_response):
    """The WSGI answer: 404 without METRICS_TOKEN or elsewhere, 401/403 without the token."""
    headers = [("Cache-Control", "no-store")]
    body = b""
    if environ.get("PATH_INFO", "").rstrip("/") != PATH or not settings.METRICS_TOKEN:
        status = "404 Not Found"
    elif refused := refusal(environ.get("HTTP_AUTHORIZATION", "")):
        status = f"{refused.status_code} {refused.reason_phrase}"
        headers += [(name, value) for name, value in refused.items()
                    if name == "WWW-Authenticate"]
    else:
        status, body = "200 OK", generate_latest(instruments.REGISTRY)
        headers.append(("Content-Type", CONTENT_TYPE_LATEST))
    start_response(status, headers)
    return [body]


def worker_metrics_serve(port: int) -> WSGIServer:
    """Answer scrapes on `port` (every interface) from a thread, for the process's life;
    returns the server."""
    server = make_server("", port, worker_metrics, server_class=_Threading,
                         handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    log.info("worker metrics on port %s", port)
    return server
