"""Setting up, renewing and removing a user's second factor, each with its audit entry."""

from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import Outcome
from audit.recording import entry_begin, entry_complete

from .entries import SECOND_FACTOR, Step
from .verification import WRONG_IN_SET_UP, CodeRefused, totp_refusal

RECOVERY_CODE_COUNT = 10
# The devices' names, which no page shows.
APP_NAME, RECOVERY_NAME = "authenticator app", "recovery codes"


def totp_enrolment_confirm(*, user, key: str, code: str) -> tuple[TOTPDevice, list[str]]:
    """The user's new authenticator device for `key` (hex), once `code` proves the app has
    it, and their new recovery codes. Raises CodeRefused (and then stores nothing)."""
    with transaction.atomic():
        device = TOTPDevice.objects.create(user=user, key=key, name=APP_NAME, confirmed=True)
        # django-otp's own check: the code is then the last one taken, and cannot be replayed.
        if not device.verify_token(code):
            raise CodeRefused(totp_refusal(device, code, wrong=WRONG_IN_SET_UP))
        codes = _recovery_codes_replace(user)
        _record(Step.ENROLLED, user=user, actor=user)
    return device, codes


def recovery_codes_renew(*, user) -> list[str]:
    """New recovery codes for the user, in place of the old ones; returns them."""
    with transaction.atomic():
        codes = _recovery_codes_replace(user)
        _record(Step.CODES_RENEWED, user=user, actor=user)
    return codes


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user).count()


def second_factor_remove(*, user, actor) -> bool:
    """Remove the user's authenticator app and recovery codes; False if they had none.

    `actor` is the user themselves, or the administrator resetting a lost device.
    """
    with transaction.atomic():
        removed, _counts = TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        if removed:
            _record(Step.REMOVED, user=user, actor=actor)
    return bool(removed)


def second_factor_lockout_record(*, user) -> None:
    """Record that wrong codes locked the user's login (django-axes keeps who, and from where)."""
    _record(Step.LOCKED_OUT, user=user, actor=user, outcome=Outcome.REFUSED)


def _recovery_codes_replace(user) -> list[str]:
    device, _created = StaticDevice.objects.get_or_create(user=user,
                                                          defaults={"name": RECOVERY_NAME})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _number in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def _record(step: str, *, user, actor, outcome: str = Outcome.SUCCEEDED) -> None:
    with transaction.atomic():
        entry = entry_begin(kind=SECOND_FACTOR.slug, actor=actor,
                            details={"step": step, "account": user.get_username()})
        entry_complete(entry, outcome=outcome)
