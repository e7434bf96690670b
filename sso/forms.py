from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


class LocalLoginForm(AuthenticationForm):
    """Django's login form; with LOCAL_LOGIN=false only staff may log in with a password."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not settings.LOCAL_LOGIN and not user.is_staff:
            raise ValidationError(
                _("Logging in with a password is turned off: sign in with %(provider)s."),
                code="local_login_off", params={"provider": settings.OIDC_PROVIDER_NAME})
