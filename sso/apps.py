from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SingleSignOnConfig(AppConfig):
    name = "sso"
    verbose_name = _("Single sign-on")

    def ready(self):
        from audit.kinds import register

        from .entries import SIGN_ON

        register(SIGN_ON)
