"""What the portal's processes count as they work: Thulium calls and requests.

Labels are bounded by construction: an endpoint is a method and a path template (never a
campaign id, a number or a name), a view is the resolved URL name. Under gunicorn the
values live in files of PROMETHEUS_MULTIPROC_DIR, which the page sums over the workers.
"""

from prometheus_client import CollectorRegistry, Counter, Histogram

# The portal's own registry: the same metrics whether one process or many serve the page.
REGISTRY = CollectorRegistry()

THULIUM_CALLS = Counter(
    "portal_thulium_calls", "Calls to Thulium by endpoint and outcome.",
    ["endpoint", "outcome"], registry=REGISTRY,
)
THULIUM_CALL_SECONDS = Histogram(
    "portal_thulium_call_duration_seconds", "Seconds a call to Thulium took, answered or not.",
    ["endpoint"], registry=REGISTRY,
    # Up to THULIUM_TIMEOUT's default (30 s), after which a call gives up.
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
REQUESTS = Counter(
    "portal_requests", "Requests by view (the URL name), method and HTTP status.",
    ["view", "method", "status"], registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "portal_request_duration_seconds", "Seconds the portal took to answer, by view.",
    ["view"], registry=REGISTRY,
)

# A client may send any method; anything else is counted as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def thulium_call_done(*, endpoint: str, outcome: str, seconds: float) -> None:
    """Count one call to Thulium; `endpoint` is e.g. "POST outbounds/:id/records"."""
    THULIUM_CALLS.labels(endpoint, outcome).inc()
    THULIUM_CALL_SECONDS.labels(endpoint).observe(seconds)


def request_done(*, view: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request of `view` (a URL name, or "unresolved")."""
    REQUESTS.labels(view, method if method in METHODS else "other", str(status)).inc()
    REQUEST_SECONDS.labels(view).observe(seconds)
