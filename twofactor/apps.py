from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TwoFactorConfig(AppConfig):
    name = "twofactor"
    verbose_name = _("Two-factor login")

    def ready(self):
        from audit.kinds import register

        from .entries import SECOND_FACTOR

        register(SECOND_FACTOR)
