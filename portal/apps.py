from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.urls import register_converter


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Thulium Outbound Portal"

    def ready(self):
        from . import (
            checks,  # noqa: F401  (registers the deploy checks)
            kept_input,  # noqa: F401  (a login by another account drops a form's input)
            login_throttling,  # noqa: F401  (a login clears its failures)
        )
        from .converters import ThuliumIdConverter

        register_converter(ThuliumIdConverter, "thulium_id")


# Through its module: an AppConfig imported by name would be one more of this module's.
class PortalAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the portal's site (portal/admin_site.py)."""

    default = False  # "portal" in INSTALLED_APPS stays PortalConfig
    default_site = "portal.admin_site.PortalAdminSite"
