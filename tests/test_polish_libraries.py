"""The Polish of the libraries' admin pages (locale_libraries/pl): django-axes' login
attempts and log, django-tasks-db's task results, django-rq's permission. They ship no
Polish (axes a partial, old one), so a Polish administrator read them in English."""

import os
import shutil
from importlib import import_module
from pathlib import Path

import polib
import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.conftest import make_user
from tests.test_polish import LIBRARIES_PO as PO
from tests.test_polish import _keys

# The modules whose words the admin shows: models (names, fields, choices, permissions) and
# admin classes. Management commands and the forms the portal does not use stay English.
SHOWN_IN_ADMIN = ["axes.models", "axes.admin", "django_tasks.base", "django_tasks_db.models"]
# Apps whose models' own permissions (Meta.permissions) the admin's permission lists show in
# the reader's language (roles.entries.permission_words), though no library marks them.
PERMISSIONS_OF = ["axes", "otp_totp", "otp_static", "django_rq", "django_tasks_database"]
# Formatted before it is looked up (_(f"...")), so no translation can ever match it.
NEVER_LOOKED_UP = {"Cleaned up {count} expired access attempts."}


@pytest.fixture
def polish_superuser(client, db):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "pl"
    return client


def _library_strings(target: Path) -> set:
    """The strings (context, msgid, plural) marked in SHOWN_IN_ADMIN, as `make messages` reads them:
    Django's makemessages run on copies of those modules in `target`."""
    for name in SHOWN_IN_ADMIN:
        source = Path(import_module(name).__file__)
        copy = target / Path(*name.split(".")).with_suffix(".py")
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
    (target / "locale").mkdir()
    with override_settings(LOCALE_PATHS=[target / "locale"]):
        call_command("makemessages", locale=["pl"], verbosity=0)
    return _keys(polib.pofile(str(target / "locale" / "pl" / "LC_MESSAGES" / "django.po")))


def _permission_words() -> set:
    return {(None, words, "") for label in PERMISSIONS_OF
            for model in apps.get_app_config(label).get_models()
            for _codename, words in model._meta.permissions}


@pytest.mark.skipif(not shutil.which("xgettext") and os.environ.get("CI") != "true",
                    reason="xgettext (gettext) is not installed")
def test_the_catalogue_holds_every_admin_string_of_the_libraries_and_no_other(
        tmp_path, monkeypatch):
    """After a library's upgrade this names what appeared (to translate) or went (to drop);
    test_polish checks the catalogue is compiled, as the portal's."""
    monkeypatch.chdir(tmp_path)
    wanted = (_library_strings(tmp_path) | _permission_words()) - {
        (None, msgid, "") for msgid in NEVER_LOOKED_UP}
    catalogue = polib.pofile(str(PO))
    assert sorted(wanted - _keys(catalogue), key=str) == [], f"add to {PO}"
    assert sorted(_keys(catalogue) - wanted, key=str) == [], f"drop from {PO}"
    assert [e.msgid for e in catalogue.untranslated_entries()] == []
    assert [e.msgid for e in catalogue.fuzzy_entries()] == []


def test_axes_login_attempts_are_in_polish(polish_superuser):
    attempt = AccessAttempt.objects.create(
        username="anna", ip_address="10.1.1.1", user_agent="Firefox", http_accept="*/*",
        path_info="/login/", get_data="", post_data="", failures_since_start=2)
    listing = polish_superuser.get(reverse("admin:axes_accessattempt_changelist"))
    html = listing.content.decode()
    assert "Według pola blokada" in html and "Locked Out" not in html
    assert f"{settings.AXES_FAILURE_LIMIT - 2} do blokady" in html
    assert "Usuń wygasłe próby dostępu" in html
    page = polish_superuser.get(reverse("admin:axes_accessattempt_change", args=[attempt.pk]))
    html = page.content.decode()
    assert "Identyfikator przeglądarki" in html and "User Agent" not in html
    assert "Wygaśnięcie próby dostępu" in html
    log = polish_superuser.get(reverse("admin:axes_accesslog_changelist"))
    assert "Wpisy dziennika logowań" in log.content.decode()


def test_task_results_are_in_polish(polish_superuser):
    result = DBTaskResult.objects.create(
        task_path="imports.tasks.push_import", args_kwargs={"args": [1], "kwargs": {}},
        backend_name="default", run_after=timezone.now(), status="SUCCESSFUL")
    html = polish_superuser.get(reverse(
        "admin:django_tasks_database_dbtaskresult_changelist")).content.decode()
    assert "Wyniki zadań" in html and "Task Results" not in html
    assert "Według pola priorytet" in html and ">Udane<" in html
    html = polish_superuser.get(reverse("admin:django_tasks_database_dbtaskresult_change",
                                        args=[result.pk])).content.decode()
    assert "Dodano do kolejki" in html and "Ścieżka zadania" in html
    assert "Enqueued at" not in html


def test_django_rq_s_permission_is_in_polish(polish_superuser):
    """Its only word an administrator sees: its queue pages are out of the admin
    (portal.apps.NOT_IN_ADMIN)."""
    html = polish_superuser.get(reverse("admin:auth_group_add")).content.decode()
    assert "Django-RQ | Może otwierać stronę administracyjną" in html
    assert "Access admin page" not in html
