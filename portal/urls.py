from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import set_language

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="campaigns:list"), name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    # The language can be chosen on the login page too.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("campaigns/", include("campaigns.urls")),
    path("", include("records.urls")),
    path("", include("imports.urls")),
]
