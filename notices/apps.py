from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NoticesConfig(AppConfig):
    name = "notices"
    verbose_name = _("E-mail notices")

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from audit.signals import chain_broken

        from .audit_breaks import AUDIT_BREAK, audit_break_notify
        from .kinds import register
        from .services import language_keep_at_login

        # The audit log is the lowest layer: it tells of a break by a signal, and its
        # notice kind is registered here.
        register(AUDIT_BREAK)
        chain_broken.connect(audit_break_notify, dispatch_uid="notices.audit_break")
        user_logged_in.connect(language_keep_at_login, dispatch_uid="notices.language")
