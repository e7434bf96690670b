"""Helpers the views of every app share, and the page of an unexpected error."""

from django.contrib import messages
from django.http import HttpResponseServerError
from django.template.loader import render_to_string

from portal.request_id import current_request_id
from portal.thulium import ThuliumError


def thulium_error_context(error: ThuliumError) -> dict:
    """What a form page shows at its top when Thulium failed: its words and request_id."""
    return {
        "messages": error.user_messages(),
        "request_id": error.request_id,
        "status": error.status,
        "outcome": error.outcome,
    }


def flash_thulium_error(request, error: ThuliumError, doing: str):
    """Report a failed Thulium call on the next page, with the request_id to quote."""
    messages.error(request, f"{doing}: {error.user_text()}")


def server_error(request):
    """The page of an unexpected error, naming the request id the log holds the error
    under. From its template alone: the database, or a context processor, may be what
    failed."""
    return HttpResponseServerError(render_to_string("500.html", {
        "request_id": current_request_id()}))
