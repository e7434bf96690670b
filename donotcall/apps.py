from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DonotcallConfig(AppConfig):
    name = "donotcall"
    verbose_name = _("Do-not-call list")

    def ready(self):
        from audit.erasure import register_eraser
        from audit.kinds import register

        from . import checks  # noqa: F401  (registers the list's start-up check)
        from .entries import DONOTCALL_ADDITION, DONOTCALL_REMOVAL, DONOTCALL_UPLOAD
        from .services import suppressions_forget, suppressions_held, suppressions_hold

        register(DONOTCALL_ADDITION)
        register(DONOTCALL_REMOVAL)
        register(DONOTCALL_UPLOAD)
        register_eraser("donotcall", suppressions_forget,
                        label=_("do-not-call list entries (still blocking, by its digest)"),
                        held=suppressions_held, hold=suppressions_hold)
