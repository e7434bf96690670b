"""The few ways a Thulium call can fail, each carrying what the user and the audit need.

- `ThuliumRefused`: Thulium answered and said no (a 4xx with its `errors[]`, a top-level
  `message`, or a sentence in plain text).
- `ThuliumMethodRefused`: a refusal of the method itself (the API user lacks the
  permission, or this Thulium lacks the endpoint), not of what was sent.
- `ThuliumAuthFailed`: Thulium did not accept the portal's API credentials.
- `ThuliumUnavailable`: no usable answer (timeout, connection error, 5xx, a body that is
  not what the API documents). `may_have_applied` tells whether Thulium may have carried
  out the request anyway, which the audit records as an *unknown* outcome.
"""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class ThuliumError(Exception):
    """Base of the gateway's failures; never carries the API password."""

    outcome = "failed"
    summary = _("Thulium could not carry out the request.")

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        request_id: str = "",
        messages: list[str] | None = None,
        may_have_applied: bool = False,
        body: str = "",
        retry_after: float | None = None,
    ):
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.request_id = request_id
        self.messages = messages or []
        self.may_have_applied = may_have_applied
        self.body = body
        self.retry_after = retry_after  # seconds Thulium asked to wait (Retry-After), if any
        if may_have_applied:
            self.outcome = "unknown"

    def user_messages(self) -> list[str]:
        """What to show the user: Thulium's own words when it gave any."""
        return self.messages or [str(self.summary)]

    def user_text(self) -> str:
        """The user's messages as one text, with the request_id to quote to Thulium."""
        text = " ".join(self.user_messages())
        if self.request_id:
            text += " " + gettext("(Thulium request_id: %(id)s)") % {"id": self.request_id}
        return text


class ThuliumRefused(ThuliumError):
    outcome = "refused"
    summary = _("Thulium refused the request.")


class ThuliumMethodRefused(ThuliumRefused):
    """401, 403, 404 or 405 on a method the portal can do without (the batch POST).

    Thulium does not document the status it gives a method the API user has no permission
    for; these four are what a missing permission or a missing endpoint can look like.
    """

    STATUSES = frozenset({401, 403, 404, 405})


class ThuliumAuthFailed(ThuliumError):
    summary = _("Thulium did not accept the portal's API credentials. Ask an administrator.")


class ThuliumUnavailable(ThuliumError):
    summary = _("Thulium did not answer properly. Try again later.")

    def user_messages(self) -> list[str]:
        """The summary, then Thulium's own words when its answer was its documented error
        (`messages`); a proxy's page is only kept for the audit, never shown."""
        if self.may_have_applied:
            return [
                str(
                    _(
                        "Thulium did not confirm the request (%(detail)s). It may have been "
                        "carried out: check in Thulium before trying again."
                    )
                    % {"detail": _translated(self.detail)}
                ),
                *self.messages,
            ]
        if self.messages:
            return [str(self.summary), *self.messages]
        # The detail is stored in English (gettext_noop in the client); shown translated.
        return [str(self.summary) + " (" + _translated(self.detail) + ")"]


def error_messages(errors: list) -> list[str]:
    """The texts of Thulium's documented error items `{"message", "code"}`, kept as they come."""
    return [
        str(error.get("message", error)) if isinstance(error, dict) else str(error)
        for error in errors
    ]


def _translated(detail: str) -> str:
    # gettext("") would answer the catalogue's header instead of nothing.
    return gettext(detail) if detail else detail
