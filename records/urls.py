from django.urls import path

from . import views

app_name = "records"
urlpatterns = [
    path("campaigns/<thulium_id:thulium_id>/records/new/", views.record_new, name="new"),
    path("campaigns/<thulium_id:thulium_id>/records/refresh-choices/", views.record_choices_refresh,
         name="refresh_choices"),
    path("records/additions/<int:pk>/check/", views.addition_check, name="check"),
]
