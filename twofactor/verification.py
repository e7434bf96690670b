"""Checking a code typed after the password: from the authenticator app, or a recovery code.

django-otp does the checking (a TOTP code is taken once: the device keeps the time step
of the last one it took, `last_t`); a refused code is then looked at again only to tell
the user why, since "wrong code" does not help someone whose code was used already or
whose phone's clock is off.
"""

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

WRONG = _("This code is not right. Type the code your authenticator app shows now, "
          "or one of your recovery codes.")
# While setting the app up: the user has no recovery codes yet.
WRONG_IN_SET_UP = _("This code is not right. Type the code your authenticator app shows now.")
USED = _("This code was used already. Wait for the next one in your authenticator app "
         "(they change every 30 seconds).")
OUT_OF_WINDOW = _("This code is not valid now: it is an old one, or your phone's clock is "
                  "off. Type the code the app shows now, and check the phone's time.")
# How far around the current time step a refused code is looked for to say why (5 minutes).
NEARBY_STEPS = 10


class CodeRefused(Exception):
    """The code opened nothing; `message` tells the user why."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def code_verify(*, user, code: str) -> Device:
    """The device that took `code`: the user's TOTP device or recovery codes.

    Raises CodeRefused. `code` is as the form cleans it: digits, or a recovery code.
    """
    with transaction.atomic():
        totp = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if totp is not None and code.isdigit() and len(code) == totp.digits:
            if totp.verify_token(code):
                return totp
            refusal = totp_refusal(totp, code)
        else:
            recovery = StaticDevice.objects.select_for_update().filter(user=user).first()
            if totp is not None and recovery is not None and recovery.verify_token(code):
                return recovery
            refusal = WRONG
    raise CodeRefused(refusal)


def totp_refusal(device: TOTPDevice, code: str, *, wrong=WRONG) -> str:
    """Why the device refused the code: used already, out of its window, or just wrong (in
    the words `wrong`)."""
    if not code.isdigit():
        return wrong
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    for offset in range(-NEARBY_STEPS, NEARBY_STEPS + 1):
        totp.drift = device.drift + offset
        if totp.token() == int(code):
            # Inside the window only a code at or before the last one taken is refused.
            return USED if abs(offset) <= device.tolerance else OUT_OF_WINDOW
    return wrong
