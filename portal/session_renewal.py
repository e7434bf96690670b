"""Idle sessions end; active ones are renewed, at most once a minute.

Django's SESSION_SAVE_EVERY_REQUEST would write the session row on every request. Instead
the session keeps when it was last renewed, and a request renews it (a new expiry in
the database and a new cookie max-age) only once RENEW_AFTER has passed: a session then
ends between SESSION_COOKIE_AGE - RENEW_AFTER and SESSION_COOKIE_AGE after its last
request, and a busy user costs one session write a minute instead of one per request.
"""

import time

from django.conf import settings

RENEWED_AT = "_renewed_at"


def renew_after() -> int:
    """Seconds between renewals: a minute, or a tenth of a short idle limit."""
    return min(60, settings.SESSION_COOKIE_AGE // 10)


class SessionRenewalMiddleware:
    """After SessionMiddleware: marks a session modified when its renewal is due."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = request.session
        # Only sessions that hold something (a login); reading an empty one costs nothing.
        if session.accessed and not session.is_empty():
            now = int(time.time())
            if now - session.get(RENEWED_AT, 0) >= renew_after():
                session[RENEWED_AT] = now
        return response
