"""The worker's own scrape: `/metrics` on WORKER_METRICS_PORT, for the holder of METRICS_TOKEN.

The worker serves no page of the portal, so the web's `/metrics` never sees its calls to
Thulium, and an import's are most of them. With WORKER_METRICS_PORT set, `run_worker`
answers Prometheus on that port itself, with this process's counters under the same token
rules as the web's page; the values read from the database stay on the web's page.
"""

import logging
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from . import instruments
from .page import PATH, refusal

log = logging.getLogger(__name__)


class _Quiet(WSGIRequestHandler):
    """No line on stderr per scrape: the worker's log is for its work."""

    # Seconds a connection may stay silent: a port check or a scraper gone half-way lets
    # go of its thread after this.
    timeout = 10

    def handle(self):
        try:
            super().handle()
        except TimeoutError:  # silent for `timeout`: nothing to answer, nor a traceback
            pass

    def log_message(self, format, *args):
        pass


class _Threading(ThreadingMixIn, WSGIServer):
    """A thread per connection: one that idles (a load balancer's port check, a scrape
    cut half-way) held wsgiref's only one, and every scrape waited behind it."""

    daemon_threads = True


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
