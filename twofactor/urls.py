from django.urls import path

from . import views

app_name = "twofactor"
urlpatterns = [
    path("login/code/", views.login_code, name="code"),
    path("two-factor/", views.manage, name="manage"),
    path("two-factor/set-up/", views.enrol, name="enrol"),
    path("two-factor/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("two-factor/recovery-codes/new/", views.recovery_codes_new, name="recovery_codes_new"),
    path("two-factor/remove/", views.remove, name="remove"),
]
