"""The scrape: `/metrics` in Prometheus' text format, for the holder of METRICS_TOKEN.

Answered before the security, host and login middleware, as `/healthz` is: Prometheus
scrapes each machine by its own address, which the portal's host name would not match.
Without METRICS_TOKEN the page does not exist (404); a request without the token gets 401
and one with another token 403, neither with any data.
"""

import hmac
import os

from django.conf import settings
from django.http import HttpResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from . import instruments
from .state import PortalState

PATH = "/metrics"


def exposition() -> bytes:
    """Every metric: this process's (or all workers' under gunicorn) and the database's."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(instruments.REGISTRY)
    registry.register(PortalState())
    return generate_latest(registry)


def refusal(authorization: str) -> HttpResponse | None:
    """The answer to a request without the right bearer token, or None for the right one."""
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        response = HttpResponse(status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    # Bytes: compare_digest refuses text that is not ASCII, and a header may hold any.
    if not hmac.compare_digest(given.strip().encode(), settings.METRICS_TOKEN.encode()):
        return HttpResponse(status=403)
    return None


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.rstrip("/") != PATH or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        if not settings.METRICS_TOKEN:
            response = HttpResponse(status=404)
        else:
            response = refusal(request.headers.get("Authorization", "")) or HttpResponse(
                exposition(), content_type=CONTENT_TYPE_LATEST)
        response["Cache-Control"] = "no-store"
        return response
