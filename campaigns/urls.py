from django.urls import path

from . import views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("sync/", views.campaign_sync, name="sync"),
    path("changes/<int:pk>/", views.change_detail, name="change"),
    path("<thulium_id:thulium_id>/", views.campaign_detail, name="detail"),
    path("<thulium_id:thulium_id>/edit/", views.campaign_edit, name="edit"),
]
