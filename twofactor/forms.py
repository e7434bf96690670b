"""The one field of the second factor: a code from the authenticator app, or a recovery code."""

import re

from django import forms
from django.utils.translation import gettext_lazy as _

# Six digits, or a recovery code (django-otp's: eight letters and digits); typed with
# spaces or dashes, in any case.
CODE = re.compile(r"[0-9a-z]{6,16}")


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"), max_length=40, strip=True,
        help_text=_("The six digits your authenticator app shows, or one of your recovery "
                    "codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "spellcheck": "false",
                                      "autocapitalize": "off"}),
    )

    def __init__(self, *args, autofocus: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        # Not where the field is one form among others (turning it off); once refused,
        # its code is focused all the same (portal.focus).
        self.fields["code"].widget.attrs["autofocus"] = autofocus

    def clean_code(self) -> str:
        code = re.sub(r"[\s-]", "", self.cleaned_data["code"]).lower()
        if not CODE.fullmatch(code):
            raise forms.ValidationError(_("Type the six digits, or a recovery code."),
                                        code="invalid")
        return code


class AppCodeForm(CodeForm):
    """When setting up: only the app's code proves the app holds the secret."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].help_text = _("The six digits your authenticator app shows now.")
        self.fields["code"].widget.attrs["inputmode"] = "numeric"

    def clean_code(self) -> str:
        """Six digits; its own message first, as no recovery code exists yet to type (the
        login's "six digits, or a recovery code" was shown for any other input)."""
        code = re.sub(r"[\s-]", "", self.cleaned_data["code"])
        if not re.fullmatch(r"[0-9]{6}", code):
            raise forms.ValidationError(_("Type the six digits your authenticator app shows."),
                                        code="invalid")
        return code


class PasswordAppCodeForm(AppCodeForm):
    """Setting up from a session the login did not just open asks for the password too:
    from a session left open, anyone could set up an app of their own, and the owner's
    next login would ask for its code."""

    password = forms.CharField(
        label=_("Your password"), strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password",
                                          "autofocus": True}),
    )
    field_order = ["password", "code"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, autofocus=False, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("This is not your password."),
                                        code="password_incorrect")
        return password
