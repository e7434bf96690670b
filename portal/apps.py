from django.apps import AppConfig
from django.urls import register_converter


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Thulium Outbound Portal"

    def ready(self):
        from . import (
            checks,  # noqa: F401  (registers the deploy checks)
            login_throttling,  # noqa: F401  (a login clears its failures)
        )
        from .converters import ThuliumIdConverter

        register_converter(ThuliumIdConverter, "thulium_id")
