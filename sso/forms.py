from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .local_login import password_login_allowed

# Said alike for a wrong password and for a right one that may not be used: the form must
# not tell anyone which old password is still good.
LOCAL_LOGIN_OFF = _("Logging in with a password is turned off: sign in with %(provider)s. "
                    "Administrators, who still may, check their name and password.")


class LocalLoginForm(AuthenticationForm):
    """Django's login form; with LOCAL_LOGIN=false only staff may log in with a password."""

    def full_clean(self):
        super().full_clean()
        # The page shows a refused login in the alert #login-error; the username, which the
        # page focuses, names it so that a screen reader reads it out with the field.
        if self.non_field_errors():
            described = filter(None, ["login-error", self["username"].aria_describedby])
            self.fields["username"].widget.attrs["aria-describedby"] = " ".join(described)

    def clean(self):
        try:
            return super().clean()
        except ValidationError as error:
            if settings.LOCAL_LOGIN or error.code not in ("invalid_login", "local_login_off"):
                raise
            raise ValidationError(LOCAL_LOGIN_OFF, code="local_login_off",
                                  params={"provider": settings.OIDC_PROVIDER_NAME}) from None

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not password_login_allowed(user):
            raise ValidationError(LOCAL_LOGIN_OFF, code="local_login_off",
                                  params={"provider": settings.OIDC_PROVIDER_NAME})
