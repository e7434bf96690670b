from django.apps import AppConfig
from django.urls import register_converter


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Thulium Outbound Portal"

    def ready(self):
        from .converters import ThuliumIdConverter

        register_converter(ThuliumIdConverter, "thulium_id")
