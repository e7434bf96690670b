"""Health answers for load balancers (`/healthz`) and monitoring (`/healthz/thulium`).

Answered before the security, host and login middleware: a load balancer calls over
plain HTTP by the instance's address, which the portal's own host name would not match.
The answers name no host, user or error text, since anyone can read them.
"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import JsonResponse

from portal.caching import cache_answer, cache_up, sessions_in_cache
from portal.thulium import ThuliumAuthFailed, ThuliumError, get_client

log = logging.getLogger(__name__)

# Monitoring may call often and without logging in: Thulium is asked at most this often.
THULIUM_CHECK_SECONDS = 30
# A monitoring probe should not wait as long as a user's request may.
THULIUM_CHECK_TIMEOUT = 5.0


def portal_health() -> JsonResponse:
    """200 when the database and the cache answer; 503 when the database does not, or the
    cache does not while it keeps the logins (caching.sessions_in_cache); otherwise the
    cache, a mere accelerator, makes the portal "degraded", and still 200. Both are named:
    with sessions in Redis and Redis down no one could log in, and this said "ok"."""
    states = {"database": _database_state(), "cache": "ok" if cache_up() else "unavailable"}
    if states["database"] != "ok" or (states["cache"] != "ok" and sessions_in_cache()):
        return JsonResponse({"status": "unavailable", **states}, status=503)
    return JsonResponse({"status": "ok" if states["cache"] == "ok" else "degraded", **states})


def _database_state() -> str:
    """"ok" when the database answers a query. Asked on a connection of its own, bounded by
    connect_timeout: the thread's kept connection, to a database that stopped answering on
    it, held the probe until TCP gave up, long past 5 s."""
    probe = connection.copy()
    try:
        with probe.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        log.warning("health: the database does not answer: %s", type(error).__name__)
        return "unavailable"
    finally:
        probe.close()
    return "ok"


def thulium_health() -> JsonResponse:
    """200 when Thulium answers with the portal's credentials, 503 otherwise; cached. A
    cache that does not answer (Redis down) is done without: the probe then asks Thulium
    each time, and answers as it should (it answered 500)."""
    key = "health:thulium"
    state = cache_answer(cache.get, key)
    if state is None:
        state = _ask_thulium()
        cache_answer(cache.set, key, state, THULIUM_CHECK_SECONDS)
    return JsonResponse(
        {"status": "ok" if state == "ok" else "unavailable", "thulium": state},
        status=200 if state == "ok" else 503,
    )


def _ask_thulium() -> str:
    timeout = min(settings.THULIUM_TIMEOUT, THULIUM_CHECK_TIMEOUT)
    try:
        # One page answered says Thulium takes the credentials: a long list's other pages
        # would only keep the probe waiting (wanted=(): no campaign to look for).
        get_client(timeout=timeout).list_campaigns(wanted=())
    except ThuliumAuthFailed:
        return "credentials refused"
    except ThuliumError:
        return "no proper answer"
    return "ok"


CHECKS = {"/healthz": portal_health, "/healthz/thulium": thulium_health}


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        check = CHECKS.get(request.path.rstrip("/"))
        if check is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        response = check()
        response["Cache-Control"] = "no-store"
        # A 503 is logged where it is found (the check's WARNING, the Thulium call's line):
        # Django's request log added an ERROR for each, and a load balancer probing every
        # 5 s through an outage filled the log with them. Django reads this mark.
        response._has_been_logged = True
        return response
