"""Where to send someone back to after a step taken elsewhere (a language switch, a login):
the page they are on, or, for a page that answers a post, the page the form was sent from,
as the post's own address may take posts only (a GET there answers 405)."""

from urllib.parse import urlsplit

from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def page_sent_from(request) -> str | None:
    """The path and query of the page that sent this request (its referer), if that page
    is on this site; None otherwise."""
    came_from = request.META.get("HTTP_REFERER", "")
    if not url_has_allowed_host_and_scheme(came_from, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        return None
    page = urlsplit(came_from)
    return page.path + (f"?{page.query}" if page.query else "")


def way_back(request) -> str:
    """The page to come back to: this one, or for a post the form's page (home without)."""
    if request.method != "POST":
        return request.get_full_path()
    return page_sent_from(request) or reverse("home")
