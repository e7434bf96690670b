from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecordsConfig(AppConfig):
    name = "records"
    verbose_name = _("Records")

    def ready(self):
        from audit.erasure import register_eraser
        from audit.kinds import register

        from .entries import RECORD_ADDITION, RECORD_CHECK
        from .services import records_forget, records_held, records_hold

        register(RECORD_ADDITION)
        register(RECORD_CHECK)
        register_eraser("added_records", records_forget, label=_("records the portal added"),
                        held=records_held, hold=records_hold)
