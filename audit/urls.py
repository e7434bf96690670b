from django.urls import path

from . import views

app_name = "audit"
urlpatterns = [
    path("", views.timeline, name="timeline"),
    path("export.csv", views.export_csv, name="export_csv"),
    path("export.jsonl", views.export_jsonl, name="export_jsonl"),
    path("forget/", views.forget, name="forget"),
    path("<int:pk>/", views.entry_detail, name="entry"),
]
