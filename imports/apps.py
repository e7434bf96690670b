from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImportsConfig(AppConfig):
    name = "imports"
    verbose_name = _("Record imports")

    def ready(self):
        from audit.erasure import register_eraser
        from audit.kinds import register
        from notices.kinds import register as register_notice

        from .entries import IMPORT, IMPORT_CLEARED, IMPORT_STOPPED
        from .erasure import (
            batch_refusals_forget,
            batch_refusals_held,
            import_files_forget,
            import_files_held,
            import_rows_forget,
            import_rows_held,
            import_rows_hold,
        )
        from .notices import IMPORT_FINISHED

        register(IMPORT)
        register(IMPORT_STOPPED)
        register(IMPORT_CLEARED)
        # The files first: ending an import whose rows are being checked waits for them to
        # be written, so that the rows' eraser finds them.
        register_eraser("import_files", import_files_forget, label=_("uploaded import files"),
                        held=import_files_held)
        register_eraser("import_rows", import_rows_forget, label=_("import rows"),
                        held=import_rows_held, hold=import_rows_hold)
        register_eraser("batch_refusals", batch_refusals_forget,
                        label=_("Thulium's refusals of the batch call"),
                        held=batch_refusals_held)
        register_notice(IMPORT_FINISHED)
