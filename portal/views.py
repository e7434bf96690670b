"""Helpers the views of every app share, the page of an unexpected error, and the one
changing one's password."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpResponseServerError
from django.template.loader import render_to_string
from django.utils.decorators import method_decorator

from portal.login_throttling import locked_out_logs_out, login_failure_count
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


@method_decorator(locked_out_logs_out, name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's, where a wrong old password counts as a failed login: from a session left
    open, it could otherwise be guessed without end, and then replaced."""

    def form_invalid(self, form):
        if form.has_error("old_password", "password_incorrect"):
            login_failure_count(self.request, user=self.request.user)
        return super().form_invalid(form)
