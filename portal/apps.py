from importlib import import_module

from django.apps import AppConfig, apps
from django.contrib.admin import apps as admin_apps
from django.urls import register_converter
from django.utils.module_loading import module_has_submodule
from django.utils.translation import gettext_lazy as _

# Installed for what they give besides the admin: django_rq for its rqworker command
# (run_worker with TASK_BACKEND=rq). Its admin module registered a queue dashboard in which
# any staff member emptied the import queue, unaudited and in English, and which answered
# 500 where no Redis listens (TASK_BACKEND=database); importing it also put its summary in
# /metrics.
NOT_IN_ADMIN = ("django_rq",)


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Thulium Outbound Portal"

    def ready(self):
        from audit.erasure import register_eraser

        from . import (
            checks,  # noqa: F401  (registers the deploy checks)
            kept_input,  # noqa: F401  (a login by another account drops a form's input)
            login_throttling,  # noqa: F401  (a login clears its failures)
        )
        from .converters import ThuliumIdConverter
        from .kept_input import kept_forms_forget, kept_forms_held

        register_converter(ThuliumIdConverter, "thulium_id")
        register_eraser("kept_forms", kept_forms_forget, label=_("forms kept across a login"),
                        held=kept_forms_held)


# Through its module: an AppConfig imported by name would be one more of this module's.
class PortalAdminConfig(admin_apps.SimpleAdminConfig):
    """Django's admin, with the portal's site (portal/admin_site.py) and the admin modules
    of the installed apps but those of NOT_IN_ADMIN."""

    default = False  # "portal" in INSTALLED_APPS stays PortalConfig
    default_site = "portal.admin_site.PortalAdminSite"

    def ready(self):
        super().ready()
        for app_config in apps.get_app_configs():
            if (app_config.name not in NOT_IN_ADMIN
                    and module_has_submodule(app_config.module, "admin")):
                import_module(f"{app_config.name}.admin")
