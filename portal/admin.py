"""The admin's pages of the libraries the portal builds on, as far as they serve it.

django-axes' log of failed logins is never written here (AXES_ENABLE_ACCESS_FAILURE_LOG
is off: its lockout counts, "Access attempts", and the log of logins, "Access logs", tell
of failures), so its page, always empty and in English in the Polish admin, is taken out.
"""

from axes.conf import settings
from axes.models import AccessFailureLog
from django.contrib import admin

if not settings.AXES_ENABLE_ACCESS_FAILURE_LOG:
    admin.site.unregister(AccessFailureLog)
