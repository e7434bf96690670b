"""The admin resets a lost second factor from the user list, and sees who has one.

django-otp's own device pages are taken out: they show the secret, and a device deleted
there would leave no audit entry.
"""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from .services import second_factor_remove

admin.site.unregister(TOTPDevice)
admin.site.unregister(StaticDevice)
admin.site.unregister(User)


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    list_display = (*UserAdmin.list_display, "second_factor")
    actions = ["second_factor_reset"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(has_second_factor=Exists(
            TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)))

    @admin.display(boolean=True, description=_("two-factor login"),
                   ordering="has_second_factor")
    def second_factor(self, user):
        return user.has_second_factor

    @admin.action(permissions=["change"],
                  description=_("Reset two-factor login (for a lost phone: the user sets it "
                                "up again)"))
    def second_factor_reset(self, request, queryset):
        reset = sum(second_factor_remove(user=user, actor=request.user) for user in queryset)
        self.message_user(request, ngettext(
            "Two-factor login reset for %(count)d user.",
            "Two-factor login reset for %(count)d users.", reset) % {"count": reset},
            messages.SUCCESS)
