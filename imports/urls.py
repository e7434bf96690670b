from django.urls import path

from . import views

app_name = "imports"
urlpatterns = [
    path("imports/", views.imports_list, name="list"),
    path("campaigns/<thulium_id:thulium_id>/records/import/", views.upload, name="upload"),
    path("imports/<int:pk>/", views.detail, name="detail"),
    path("imports/<int:pk>/mapping/", views.mapping, name="mapping"),
    path("imports/<int:pk>/read-options/", views.read_options, name="read_options"),
    path("imports/<int:pk>/sheet/", views.sheet, name="sheet"),
    path("imports/<int:pk>/templates/<int:template_pk>/delete/", views.template_delete,
         name="template_delete"),
    path("imports/<int:pk>/stop-check/", views.stop_check, name="stop_check"),
    path("imports/<int:pk>/confirm/", views.confirm, name="confirm"),
    path("imports/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("imports/<int:pk>/progress.json", views.progress, name="progress"),
    path("imports/<int:pk>/report.csv", views.report, name="report"),
    path("imports/<int:pk>/rows-to-fix.csv", views.rows_to_fix_csv, name="rows_to_fix"),
]
