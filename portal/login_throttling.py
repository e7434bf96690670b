"""What django-axes' login throttling counts a failed login against, the address and the
name, what a login clears, and the forms that ask a logged-in user for their password or a
code, which count a wrong answer as a failed login and heed the account's lockout only,
checking one answer of the account's at a time.

Behind proxies the address is the one the outermost trusted proxy saw; the typed account
name is cut to what the lockout tables can hold.
"""

from contextlib import contextmanager
from functools import wraps

from axes.backends import AxesStandaloneBackend
from axes.conf import settings
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from axes.models import AccessAttempt
from axes.utils import reset
from django.contrib import auth
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction
from django.dispatch import receiver


def client_ip(request) -> str:
    """REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies the address the outermost one saw.

    Each proxy appends the address it received the request from to X-Forwarded-For, so
    only the last TRUSTED_PROXY_COUNT entries can be trusted; anything further left may
    have been typed by the client to dodge a lockout.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR", "")
    if proxies <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    return hops[-proxies] if len(hops) >= proxies else remote


def login_username(request, credentials: dict | None = None) -> str | None:
    """The typed account name (as django-axes reads it), cut to the lockout tables' column.

    No account has a longer name (Django's hold at most 150 characters), but PostgreSQL
    refuses to store one, which would turn a failed login into an error page.
    """
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        username = credentials.get(field)
    else:
        username = getattr(request, "data", request.POST).get(field)
    if not isinstance(username, str):
        return username
    return username[: AccessAttempt._meta.get_field("username").max_length]


def login_described(username, ip_address, user_agent, path_info, request) -> str:
    """How django-axes' log lines name a login: by its address and page, not the name
    typed, which may be a password typed in the wrong field. Its records in the database
    (the admin's Axes pages) keep the account, for a while (portal.login_records)."""
    if isinstance(path_info, (tuple, list)):
        path_info = path_info[0]
    return f'{{ip_address: "{ip_address}", path_info: "{path_info}"}}'


class PasswordLockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout, for logins with a password. A sign-on through the identity
    provider (mozilla-django-oidc authenticates with no password) is the provider's to
    judge: other people's wrong passwords from the same office must not lock its users out
    of it, nor each of their sign-ons count as one more failure."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if password is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


@receiver(user_logged_in, dispatch_uid="portal.login_throttling.failures_forget")
def failures_forget(sender, request, user, **kwargs) -> None:
    """A login clears the failures of its own account, from wherever they came: a typo
    followed by the right password counts no longer, against the account or its address.
    Other accounts' failures from the same address stay counted (AXES_RESET_ON_SUCCESS)."""
    reset(username=user.get_username())


def lockout_parameters(request, credentials=None) -> list[str]:
    """What a failure is judged by: the account name and the address, except on the forms
    that ask a logged-in user for their own password or a code, judged by the account's
    failures only: a colleague's typos at the next desk, from the office's one address,
    must not log out whoever changes their password there. Every failure still counts
    against its address at the login."""
    user = getattr(request, "user", None)
    if (credentials and user is not None and user.is_authenticated
            and credentials.get(settings.AXES_USERNAME_FORM_FIELD) == user.get_username()):
        return ["username"]
    return ["username", "ip_address"]


def lockout_page(request, *, user):
    """The lockout page if `user`'s login is locked out (by `lockout_parameters`); else
    None."""
    credentials = _credentials(user)
    if AxesProxyHandler.is_allowed(request, credentials):
        return None
    return get_lockout_response(request, None, credentials)


def login_failure_count(request, *, user) -> bool:
    """Count a wrong password or code of `user`'s as a failed login, as one at the login
    form counts; True if it locked the login out (AxesMiddleware then answers with the
    lockout page)."""
    user_login_failed.send(sender=__name__, credentials=_credentials(user), request=request)
    return bool(getattr(request, "axes_locked_out", False))


@contextmanager
def answers_checked_in_turn(user):
    """A transaction in which the account's other passwords and codes wait (on its row)
    until it ends: reading the lockout, checking an answer and counting it as a failure are
    one step, or answers sent at once would all pass the lockout before the first was
    counted. The lock lets rows that refer to the account (its audit entries) be written
    meanwhile."""
    with transaction.atomic():
        list(auth.get_user_model().objects.select_for_update(no_key=True)
             .filter(pk=user.pk).values_list("pk"))
        yield


def locked_out_logs_out(view):
    """For a form asking a logged-in user for their password or a code (a session left
    open must not let anyone guess it without end): posted while their login is locked
    out, it logs the session out and shows the lockout page, as the wrong answer that
    locks it does. Each posted answer is checked in the account's turn."""

    @wraps(view)
    def view_under_lockout(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        with answers_checked_in_turn(request.user):
            locked = lockout_page(request, user=request.user)
            if locked is not None:
                auth.logout(request)
                return locked
            response = view(request, *args, **kwargs)
        if getattr(request, "axes_locked_out", False):
            auth.logout(request)  # AxesMiddleware answers with the lockout page.
        return response

    return view_under_lockout


def _credentials(user) -> dict:
    return {settings.AXES_USERNAME_FORM_FIELD: user.get_username()}
