"""Sessions kept in a cache that does not answer (Redis down, with SESSION_ENGINE in the
cache): no login can be kept, and the page says so (503) where Django's session store
raised the cache's own error, and every login answered 500."""

from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.template.loader import render_to_string

from portal.caching import cache_up, sessions_in_cache


def logins_unavailable_page() -> HttpResponse | None:
    """The page saying logins cannot be kept now, when the cache keeps the sessions and
    does not answer; None otherwise, for the error to reach the 500 page."""
    if not sessions_in_cache() or cache_up():
        return None
    # From its template alone, as the 500 page: the request's session is what failed.
    return HttpResponse(render_to_string("registration/logins_unavailable.html"), status=503)


class SessionOutageMiddleware(SessionMiddleware):
    """Django's SessionMiddleware, answering logins_unavailable_page to what the session
    store failed: a view's new session (a login) or the session saved after it."""

    def process_exception(self, request, exception):
        return logins_unavailable_page()

    def process_response(self, request, response):
        try:
            return super().process_response(request, response)
        except Exception:
            page = logins_unavailable_page()
            if page is None:
                raise
            return page
