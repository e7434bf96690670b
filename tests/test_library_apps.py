"""The libraries' apps and models under the portal's names (portal/library_apps.py), in
Polish where the admin showed their English ("Axes", "Otp_Totp | TOTP device"), with their
labels, migrations and permissions as the libraries made them."""

import re
from html import unescape

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from portal import library_apps
from tests.conftest import make_user
from tests.test_twofactor import enrolled

pytestmark = pytest.mark.django_db

# What each library's migrations and permissions are keyed by: a config's path may change,
# never these.
LABELS = {"axes": library_apps.LoginAttemptsConfig,
          "otp_totp": library_apps.AuthenticatorAppsConfig,
          "otp_static": library_apps.RecoveryCodesConfig,
          "django_tasks_database": library_apps.BackgroundTasksConfig,
          "django_rq": library_apps.TaskQueuesConfig}
CODENAMES = {f"{action}_{model}" for action in ("add", "change", "delete", "view")
             for model in ("accessattempt", "accessattemptexpiration", "accesslog",
                           "accessfailurelog", "totpdevice", "staticdevice", "statictoken",
                           "dbtaskresult")} | {"admin"}


@pytest.fixture
def polish_admin(client):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "pl"
    return client


def page_text(client, url: str) -> str:
    return re.sub(r"\s+", " ", unescape(client.get(url).content.decode()))


def test_the_renamed_apps_keep_their_labels_migrations_and_permissions():
    assert {label: type(apps.get_app_config(label)) for label in LABELS} == LABELS
    assert set(Permission.objects.filter(content_type__app_label__in=LABELS)
               .values_list("codename", flat=True)) == CODENAMES
    # The models named in ready() are still declared as their migrations say.
    call_command("makemigrations", *LABELS, check=True, dry_run=True, verbosity=0)


def test_the_admin_index_names_the_libraries_apps_in_polish(polish_admin):
    index = page_text(polish_admin, reverse("admin:index"))
    assert ">Próby logowania</a>" in index and ">Zadania w tle</a>" in index
    assert ">Axes<" not in index and "Tasks Database Backend" not in index
    results = page_text(polish_admin,
                        reverse("admin:django_tasks_database_dbtaskresult_changelist"))
    assert "Strona główna</a> › <a href=\"/admin/django_tasks_database/\">Zadania w tle</a>" in (
        results)


def test_the_group_page_names_the_second_factor_and_queue_permissions_in_polish(polish_admin):
    html = page_text(polish_admin, reverse("admin:auth_group_add"))
    assert ("Aplikacje uwierzytelniające | aplikacja uwierzytelniająca | "
            "Może dodawać: aplikacja uwierzytelniająca") in html
    assert "Kody awaryjne | zestaw kodów awaryjnych | Może usuwać: zestaw kodów awaryjnych" in html
    assert "Kody awaryjne | kod awaryjny | Może przeglądać: kod awaryjny" in html
    assert "Kolejki zadań | Django-RQ | Może otwierać stronę administracyjną" in html
    assert "Próby logowania | próba dostępu | Może usuwać: próba dostępu" in html
    assert "Zadania w tle | wynik zadania | Może przeglądać: wynik zadania" in html
    for english in ("Otp_Totp", "Otp_Static", "TOTP device", "static device", "static token",
                    "Django_Rq", "Axes", "Tasks Database Backend"):
        assert english not in html


def test_a_user_s_delete_page_names_their_second_factor_in_polish(polish_admin):
    anna = make_user("anna")
    enrolled(anna)
    html = page_text(polish_admin, reverse("admin:auth_user_delete", args=[anna.pk]))
    assert "<li>Aplikacje uwierzytelniające: 1</li>" in html
    assert "<li>Zestawy kodów awaryjnych: 1</li> <li>Kody awaryjne: 10</li>" in html
    assert "<li>Aplikacja uwierzytelniająca: authenticator app (anna)</li>" in html
    assert "TOTP device" not in html and "Static token" not in html


def test_the_task_results_labels_the_library_leaves_english_are_in_polish(polish_admin):
    result = DBTaskResult.objects.create(
        task_path="imports.tasks.push_import", args_kwargs={"args": [1], "kwargs": {}},
        backend_name="default", run_after=timezone.now(), status="SUCCESSFUL")
    listing = page_text(polish_admin,
                        reverse("admin:django_tasks_database_dbtaskresult_changelist"))
    assert "<span>Nazwa zadania</span>" in listing and "Task name" not in listing
    page = page_text(polish_admin, reverse("admin:django_tasks_database_dbtaskresult_change",
                                           args=[result.pk]))
    assert "<label>Uruchomić po:</label>" in page and "<label>Ślad stosu:</label>" in page
    assert "Run after" not in page and "Traceback" not in page
