"""What django-axes' login throttling counts a failed login against, the address and the
name, and what a login clears.

Behind proxies the address is the one the outermost trusted proxy saw; the typed account
name is cut to what the lockout tables can hold.
"""

from axes.backends import AxesStandaloneBackend
from axes.conf import settings
from axes.models import AccessAttempt
from axes.utils import reset
from django.contrib.auth.signals import user_logged_in
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
