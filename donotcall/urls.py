from django.urls import path

from . import views

app_name = "donotcall"
urlpatterns = [
    path("", views.suppression_list, name="list"),
    path("add/", views.suppression_new, name="add"),
    path("upload/", views.suppression_upload, name="upload"),
    path("export.csv", views.suppression_export, name="export"),
    path("<int:pk>/remove/", views.suppression_removal, name="remove"),
    path("opt-out/<int:pk>/", views.opt_out, name="opt_out"),
]
