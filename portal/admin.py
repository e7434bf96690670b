"""The admin's pages of the libraries the portal builds on, as far as they serve it.

django-axes' log of failed logins is never written here (AXES_ENABLE_ACCESS_FAILURE_LOG
is off: its lockout counts, "Access attempts", and the log of logins, "Access logs", tell
of failures), so its page, always empty and in English in the Polish admin, is taken out.
"""

from axes.conf import settings
from axes.models import AccessFailureLog
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

if not settings.AXES_ENABLE_ACCESS_FAILURE_LOG:
    admin.site.unregister(AccessFailureLog)


class TaskResultAdmin(DBTaskResultAdmin):
    """django-tasks-db's task results, with the three labels its admin writes as plain
    English (the task's name, its run after, its traceback) in the reader's language."""

    list_display = tuple("task_name_shown" if name == "task_name" else name
                         for name in DBTaskResultAdmin.list_display)

    @admin.display(description=_("task name"))
    def task_name_shown(self, result):
        return result.task_name

    @admin.display(description=_("run after"))
    def display_run_after(self, result):
        return super().display_run_after(result)

    @admin.display(description=_("traceback"))
    def formatted_traceback(self, result):
        return super().formatted_traceback(result)


# Imported above, django-tasks-db's admin has registered its own, listed after the portal.
admin.site.unregister(DBTaskResult)
admin.site.register(DBTaskResult, TaskResultAdmin)
