"""When the login took this session's password: the set-up of a second factor that the
login then forces (REQUIRE_2FA_FOR) need not ask for it again so soon."""

import time

from .pending import PENDING_SECONDS

PASSWORD_TYPED_AT = "twofactor_password_typed_at"


def password_typed_record(request) -> None:
    request.session[PASSWORD_TYPED_AT] = int(time.time())


def password_typed_lately(request) -> bool:
    """True until PENDING_SECONDS after the login took the password, as for its code."""
    typed_at = request.session.get(PASSWORD_TYPED_AT)
    return typed_at is not None and time.time() - typed_at <= PENDING_SECONDS
