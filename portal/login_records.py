"""How long the portal keeps what logins leave behind, for the worker to clear.

django-axes records each login (the account, the address and browser it came from, when
it began and ended): the trail an administrator reads after a suspicious login, kept for
LOGIN_LOG_KEEP_DAYS, not for ever, as it is personal data. Sessions stay in the database
after they expire until something deletes them (Django's `clearsessions`).
"""

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.core.management import call_command


def login_log_clear() -> int:
    """Delete the login records older than LOGIN_LOG_KEEP_DAYS (0: none); returns how many."""
    if settings.LOGIN_LOG_KEEP_DAYS <= 0:
        return 0
    return AxesProxyHandler.reset_logs(age_days=settings.LOGIN_LOG_KEEP_DAYS)


def sessions_clear() -> None:
    """Delete the expired sessions (where the session engine keeps them)."""
    call_command("clearsessions")
