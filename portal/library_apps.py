"""The libraries' apps under the portal's names for them, in the reader's language.

Django names an app by its AppConfig's verbose_name, which these libraries leave English or
unset (then it is the label, titled: "Axes", "Otp_Totp"), and the admin shows it on its
index, in its sidebar and breadcrumbs and in every permission of the group and user pages
("app | model | permission"). Each config here subclasses the library's own, which keeps its
label (what migrations, content types and permissions are keyed by) and its ready() (axes
connects its login-failure signals there). django-otp's own app has no models, so no page
names it.
"""

from axes.apps import AppConfig as AxesConfig
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.apps import DefaultConfig as OtpStaticConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as OtpTotpConfig
from django_rq.apps import DjangoRqAdminConfig
from django_tasks_db.apps import TasksAppConfig as TasksDatabaseConfig


class ModelsNamed:
    """Names the app's models in `model_names` (singular, plural) in the reader's language,
    where their Meta names them in plain English (the permissions' words and a user's delete
    page show them). Migrations are not touched: they read a model's Meta as declared
    (`_meta.original_attrs`). A new database writes these English names into the stored
    names of the models' permissions; their codenames, which the portal goes by, stay."""

    model_names = {}

    def ready(self):
        super().ready()
        for name, (singular, plural) in self.model_names.items():
            meta = self.get_model(name)._meta
            meta.verbose_name, meta.verbose_name_plural = singular, plural


class LoginAttemptsConfig(AxesConfig):
    verbose_name = _("Login attempts")


class BackgroundTasksConfig(TasksDatabaseConfig):
    verbose_name = _("Background tasks")


class TaskQueuesConfig(DjangoRqAdminConfig):
    verbose_name = _("Task queues")


class AuthenticatorAppsConfig(ModelsNamed, OtpTotpConfig):
    verbose_name = _("Authenticator apps")
    model_names = {"TOTPDevice": (_("authenticator app"), _("authenticator apps"))}


class RecoveryCodesConfig(ModelsNamed, OtpStaticConfig):
    verbose_name = _("Recovery codes")
    model_names = {"StaticDevice": (_("set of recovery codes"), _("sets of recovery codes")),
                   "StaticToken": (_("recovery code"), _("recovery codes"))}
