from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RolesConfig(AppConfig):
    name = "roles"
    verbose_name = _("Roles")

    def ready(self):
        from audit.kinds import register

        from .entries import ACCOUNT, GROUP

        register(ACCOUNT)
        register(GROUP)
