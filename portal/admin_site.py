"""The admin site: Django's, which refuses a logged-in user who is not staff (403) instead
of sending them to its login page. Logged in there as themselves, they would be sent back
to it, round and round, with nothing saying the admin is for administrators."""

from functools import wraps

from django.contrib import admin
from django.core.exceptions import PermissionDenied


def staff_only(view):
    """The view, answering 403 to a user logged in who may not use the admin."""

    @wraps(view)
    def refused_unless_staff(request, *args, **kwargs):
        if request.user.is_authenticated and not admin.site.has_permission(request):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return refused_unless_staff


class PortalAdminSite(admin.AdminSite):
    def admin_view(self, view, cacheable=False):
        return staff_only(super().admin_view(view, cacheable))
