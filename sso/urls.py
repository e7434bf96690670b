from django.contrib.auth.decorators import login_not_required
from django.urls import path

from . import views

app_name = "sso"
urlpatterns = [
    path("authenticate/", login_not_required(views.SignInStart.as_view()), name="start"),
    # The redirect URI to register at the provider.
    path("callback/", login_not_required(views.SignInCallback.as_view()), name="callback"),
]
