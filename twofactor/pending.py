"""A login that passed the password and waits for the second factor, kept in the session.

The user is not logged in until the code is right: no page opens on the password alone,
and django-axes' reset of an account's failures waits for the whole login, so wrong codes
add up to a lockout like wrong passwords do.
"""

import time
from dataclasses import dataclass

from django.contrib import auth
from django.contrib.auth import get_user_model

PENDING = "twofactor_pending"
# A password typed longer ago than this must be typed again.
PENDING_SECONDS = 300


@dataclass(frozen=True)
class PendingLogin:
    user: object
    backend: str  # the authentication backend that took the password
    redirect_to: str  # where the login form would have sent the user


def pending_login_start(request, *, user, redirect_to: str) -> None:
    request.session[PENDING] = {"user": user.pk, "backend": user.backend,
                                "redirect_to": redirect_to, "at": int(time.time())}


def pending_login(request) -> PendingLogin | None:
    """The login waiting in this session, or None (none, expired, or its user is gone)."""
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        return None
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    if user is None:
        return None
    return PendingLogin(user, pending["backend"], pending["redirect_to"])


def pending_login_drop(request) -> None:
    request.session.pop(PENDING, None)


def pending_login_finish(request, pending: PendingLogin, device) -> None:
    """Log the user in, verified by `device` (django-otp keeps it in the session)."""
    pending_login_drop(request)
    pending.user.otp_device = device
    auth.login(request, pending.user, backend=pending.backend)
