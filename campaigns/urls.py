from django.urls import path

from . import bulk_views, request_views, schedule_views, views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("sync/", views.campaign_sync, name="sync"),
    path("bulk/", bulk_views.bulk_change, name="bulk"),
    path("bulk/confirm/", bulk_views.bulk_confirm, name="bulk_confirm"),
    path("requests/", request_views.request_list, name="requests"),
    path("requests/<int:pk>/", request_views.request_detail, name="request"),
    path("requests/<int:pk>/approve/", request_views.request_approve, name="request_approve"),
    path("requests/<int:pk>/reject/", request_views.request_reject, name="request_reject"),
    path("scheduled/", schedule_views.scheduled_list, name="scheduled"),
    path("scheduled/<int:pk>/", schedule_views.scheduled_detail, name="scheduled_change"),
    path("scheduled/<int:pk>/cancel/", schedule_views.scheduled_cancel, name="scheduled_cancel"),
    path("<thulium_id:thulium_id>/", views.campaign_detail, name="detail"),
    path("<thulium_id:thulium_id>/edit/", views.campaign_edit, name="edit"),
    path("revert/<int:pk>/", views.campaign_revert, name="revert"),
]
