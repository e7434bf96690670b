"""Free text the portal keeps as typed: a change's reason, a decision's note, a template's
name. An erasure of a number reaches the places that hold numbers, not these (audit/README.md),
so they may hold none."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .phones import spells_a_phone_number


def validate_no_phone_number(text: str) -> None:
    """Raises ValidationError, for the field, when the text spells a phone number."""
    if spells_a_phone_number(text):
        raise ValidationError(
            _("Leave the phone number out: the portal keeps this text as typed, in the audit "
              "trail too, where erasing the number would not reach it."), code="number")
