from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit trail")

    def ready(self):
        from . import checks, kinds  # noqa: F401  (registers the system check)

        kinds.register(kinds.CAMPAIGN_CHANGE)
        kinds.register(kinds.RECORD_ADDITION)
        kinds.register(kinds.CHANGE_REQUEST)
        kinds.register(kinds.IMPORT)
