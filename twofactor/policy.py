"""Who has a second factor, and who must have one (REQUIRE_2FA_FOR)."""

from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

STAFF = "staff"


def has_second_factor(user) -> bool:
    """True once the user confirmed an authenticator app (recovery codes come with it)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def second_factor_required(user) -> bool:
    """True when REQUIRE_2FA_FOR names the user's kind: "staff", or one of their groups."""
    names = set(settings.REQUIRE_2FA_FOR)
    if STAFF in names and user.is_staff:
        return True
    groups = names - {STAFF}
    return bool(groups) and user.groups.filter(name__in=groups).exists()
