"""The portal's own middleware: a request id and one log line per request, its count in the
metrics, the renewal of idle sessions, the way back after logging in (with what a form held
when its session had ended), the 400 page for a NUL in an admin page's query string, a
page for an address opened that takes posts only, pages a browser does not store, and the
413 page for a request body too large to read.

Idle sessions end; active ones are renewed, at most once a minute. Django's
SESSION_SAVE_EVERY_REQUEST would write the session row on every request. Instead the
session keeps when it was last renewed, and a request renews it (a new expiry in the
database and a new cookie max-age) only once RENEW_AFTER has passed: a session then ends
between SESSION_COOKIE_AGE - RENEW_AFTER and SESSION_COOKIE_AGE after its last request, and
a busy user costs one session write a minute instead of one per request.
"""

import logging
import time

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest
from django.core.signals import request_finished
from django.dispatch import receiver
from django.shortcuts import render, resolve_url
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from .kept_input import account_cookie_set, posted_input_keep
from .metrics.instruments import request_done
from .request_id import request_id_from, set_current_request_id
from .way_back import page_sent_from

log = logging.getLogger("portal.request")
RENEWED_AT = "_renewed_at"
# Read beyond the largest upload: the form around its file, and a file a little over the
# limit, which its form then refuses next to the field, naming its size, with the other
# fields kept. The proxies of docs/operations.md take as much (25 MiB by default; a test of
# tests/production holds them to it).
UPLOAD_ROOM = 5 * 1024 * 1024


class RequestIdMiddleware:
    """First in the chain: the id covers everything the request logs and audits.

    With TRUST_REQUEST_ID_HEADER (a proxy that overwrites `X-Request-ID`), a sane id from
    the proxy is kept, so the proxy's and the portal's lines of one request share it;
    otherwise the portal makes its own, as a browser's would name its audit entries. The
    id is echoed in the answer for the same reason.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        sent = request.headers.get("X-Request-ID") if settings.TRUST_REQUEST_ID_HEADER else None
        request_id = request_id_from(sent)
        # Cleared when the answer is finished, not here: Django logs "Not Found" and the
        # like after the middleware has returned, and those lines need the id too.
        set_current_request_id(request_id)
        started = time.monotonic()
        response = self.get_response(request)
        duration_ms = round((time.monotonic() - started) * 1000)
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        # The path only: a query string could carry what the user typed.
        log.info(
            "request %s %s status=%d duration_ms=%d",
            request.method, request.path, response.status_code, duration_ms,
            extra={"method": request.method, "path": request.path,
                   "status": response.status_code, "duration_ms": duration_ms,
                   "user_id": user_id},
        )
        response["X-Request-ID"] = request_id
        return response


@receiver(request_finished, dispatch_uid="portal.forget_request_id")
def forget_request_id(**kwargs):
    """A thread's next work, if not a request, must not inherit the last request's id."""
    set_current_request_id("")


class RequestMetricsMiddleware:
    """Counts and times each request by view: the resolved URL name, never the raw path,
    which holds campaign ids and could be anything a client typed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        response = self.get_response(request)
        match = request.resolver_match
        if match:
            view = match.view_name
        elif request.path.startswith(settings.STATIC_URL):
            view = "static"  # served by WhiteNoise: a page's styles, not an unknown path
        else:
            view = "unresolved"
        request_done(view=view, method=request.method, status=response.status_code,
                     seconds=time.monotonic() - started)
        return response


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


class LoginThenBackMiddleware(LoginRequiredMiddleware):
    """Sends an anonymous visitor to log in, and back to the page afterwards.

    A form sent after the session ran out goes back to the page the form was on, not to
    where it was sent: that address may take posts only, and would answer a blank 405. What
    it held is kept for that page to show again (portal.kept_input), to whose rule the
    cookie naming the account logged in with this browser belongs.
    """

    def handle_no_permission(self, request, view_func):
        if request.method != "POST":
            return super().handle_no_permission(request, view_func)
        # A post from no page of this site goes back to its own address.
        page = page_sent_from(request) or request.get_full_path()
        posted_input_keep(request, page=page)
        return redirect_to_login(page, resolve_url(self.get_login_url(view_func)),
                                 self.get_redirect_field_name(view_func))

    def process_response(self, request, response):
        account_cookie_set(request, response)
        return response


class NotStoredMiddleware:
    """After AuthenticationMiddleware: a logged-in user's page, or file, is not stored by
    the browser nor a proxy unless its view says how to cache it. Most show people's numbers
    and record fields (an import's mapping shows its file's first rows, the do-not-call list
    and the audit trail their numbers); a copy in a browser's cache outlived an erasure and
    the clearing of an import, for the next user of the computer to open from its history."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated
                and not response.has_header("Cache-Control")):
            add_never_cache_headers(response)
        return response


class AdminQueryNulMiddleware:
    """An admin page whose query string holds a NUL gets the 400 page.

    The admin's lists put a filter's or a search's value into the query as it came, and
    PostgreSQL cannot hold a NUL in text: the list failed with a server error. The portal's
    own pages mark such a value next to its filter, and form posts go through: each form
    refuses a NUL next to its field, the admin's structure field names more precisely than
    a page for the whole request could.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(reverse("admin:index")) and any(
                "\x00" in name or any("\x00" in value for value in values)
                for name, values in request.GET.lists()):
            raise BadRequest("A NUL character in an admin page's query string")
        return self.get_response(request)


class NotAllowedPageMiddleware:
    """A GET of an address that takes posts only (an old link, an address typed or kept)
    gets a page with a way on, not the empty 405 a browser shows as its own error."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or request.method != "GET":
            return response
        page = render(request, "405.html", status=405)
        page["Allow"] = response["Allow"]
        return page


def body_refused(content_length: str | None) -> bool:
    """Whether a request body declared this long (CONTENT_LENGTH) is refused unread: longer
    than the largest upload (IMPORT_MAX_FILE_SIZE) and its UPLOAD_ROOM."""
    try:
        return int(content_length or 0) > settings.IMPORT_MAX_FILE_SIZE + UPLOAD_ROOM
    except ValueError:
        return False  # Django reads none of such a body


class TooLargeBodyMiddleware:
    """Before CSRF's check reads a post's body: a body declared larger than any upload the
    portal takes gets the 413 page, unread.

    Django stores an upload's file on disk as it reads it, and a form refuses it as too large
    only once it has all of it: a client sending gigabytes, logged in or not (CSRF's check
    reads the body of an anonymous post too), filled the disk and held a worker as long as it
    liked. Django reads no more than the declared length (its LimitedStream), so refusing by
    that length bounds what is read; gunicorn then closes the connection rather than read the
    rest itself (its pre_request hook in gunicorn.conf.py).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        sent = request.META.get("CONTENT_LENGTH")
        if not body_refused(sent):
            return None
        return render(request, "413.html", {
            "size": filesizeformat(int(sent)),
            "most": filesizeformat(settings.IMPORT_MAX_FILE_SIZE),
            "form_page": page_sent_from(request),
        }, status=413)
