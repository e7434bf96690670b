from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy
from django.views.generic import RedirectView

from notices.views import language_choose
from portal.admin_site import staff_only
from portal.views import PasswordChangeView
from sso.forms import LocalLoginForm
from sso.views import ProviderLogoutView
from twofactor.views import PasswordLoginView

handler500 = "portal.views.server_error"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="campaigns:list"), name="home"),
    # One login for the portal and the admin: the one that asks for the second factor.
    path("admin/login/", staff_only(
        PasswordLoginView.as_view(authentication_form=LocalLoginForm))),
    # One password change, which counts a wrong old password as a failed login; the admin's,
    # like the rest of the admin, for staff (it ends on the admin's page, a 403 to others).
    path("admin/password_change/", staff_only(PasswordChangeView.as_view(
        success_url=reverse_lazy("admin:password_change_done")))),
    # One logout too: the admin's own would keep the provider's session of a staff member
    # it signed on, and lose the ID token that ends it.
    path("admin/logout/", ProviderLogoutView.as_view()),
    path("admin/", admin.site.urls),
    # No password reset by e-mail: administrators set passwords.
    path("accounts/login/", PasswordLoginView.as_view(authentication_form=LocalLoginForm),
         name="login"),
    path("accounts/", include("twofactor.urls")),
    # Ends the provider's session too, for a session it signed on (sso/).
    path("accounts/logout/", ProviderLogoutView.as_view(), name="logout"),
    path("accounts/password_change/", PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_change/done/", auth_views.PasswordChangeDoneView.as_view(),
         name="password_change_done"),
    path("i18n/setlang/", language_choose, name="set_language"),
    path("campaigns/", include("campaigns.urls")),
    path("", include("records.urls")),
    path("audit/", include("audit.urls")),
    path("", include("imports.urls")),
    path("do-not-call/", include("donotcall.urls")),
    path("accounts/e-mails/", include("notices.urls")),
    # Single sign-on: /oidc/callback/ is the redirect URI registered at the provider.
    path("oidc/", include("sso.urls")),
]
