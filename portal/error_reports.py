"""Error reports (the debug page, administrators' e-mails) that never show the Thulium password."""

import base64

from django.conf import settings
from django.views.debug import SafeExceptionReporterFilter


class ThuliumSecretFilter(SafeExceptionReporterFilter):
    """Hides every traceback variable that holds the Thulium password, in any form.

    The gateway hands the password to requests as `auth`; a crash inside requests or
    urllib3 would show it in their frames' variables, as the tuple or as the base64 of the
    Authorization header. Settings named *PASS* are already hidden by Django.
    """

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        secrets = thulium_secret_forms()
        return [
            (name, self.cleansed_substitute if _shows_any(value, secrets) else value)
            for name, value in variables
        ]


def thulium_secret_forms() -> list[str]:
    """The password as typed and as it travels in a Basic Authorization header."""
    password = settings.THULIUM_API_PASSWORD
    if not password:
        return []
    pair = f"{settings.THULIUM_API_USER}:{password}".encode()
    return [password, base64.b64encode(pair).decode()]


def _shows_any(value, secrets) -> bool:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken repr is shown as such by Django, not by us
        return False
    return any(secret in text for secret in secrets)
