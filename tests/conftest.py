"""Shared fixtures: the Thulium sandbox over real HTTP, users and campaigns."""

from functools import cache as cached
from importlib import import_module

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS
from django.db.migrations.loader import MigrationLoader
from django.test import TransactionTestCase
from django.urls import reverse
from django.utils import translation

from campaigns.models import Campaign
from campaigns.reading import campaigns_sync
from portal.thulium.client import ThuliumClient
from portal.thulium.sandbox import start_sandbox
from tests import kept_rows
from tests.browser import CHROMIUM_RUN, chromium  # noqa: F401
from tests.production.processes import manage, production_env

# Short enough that the sandbox's timeout fault fails fast, long enough for a loaded CI box.
TEST_TIMEOUT = 1.0
# A timeout fault's delay longer than any test: its answer is certain to come after the
# portal gave up, however slow the machine (the next test's reset ends the sandbox's wait;
# SandboxState.wait_timed_out waits until the fault took the request).
LATE = 60.0
PASSWORD = "a-long-test-password"
# The groups of roles/migrations/0001_groups.py, and audit/migrations/0003_auditors_group.py.
EDITORS, LOADERS, ADMINISTRATORS = "Campaign editors", "Record loaders", "Administrators"
AUDITORS = "Auditors"
COMPLIANCE = "Compliance officers"  # donotcall/migrations/0002_compliance_officers.py


# The data migrations that write rows (the role groups with their permissions). Their
# functions are idempotent; a new one belongs here, and the tables it writes in
# kept_rows.KEPT.
DATA_MIGRATIONS = [
    ("roles.migrations.0002_groups_of_the_one_log", "create_groups"),
    ("audit.migrations.0003_auditors_group", "create_auditors"),
    ("donotcall.migrations.0002_compliance_officers", "create_compliance_officers"),
]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    """Chromium runs on only if the next test uses it too (tests/browser.py)."""
    CHROMIUM_RUN.next_test(uses_it="chromium" in getattr(nextitem, "fixturenames", ()))


@pytest.fixture(scope="session", autouse=True)
def flush_keeping_unchanged_rows():
    """The flush after a transactional test keeps the content types, permissions and role
    groups a test left as it found them (tests/kept_rows.py)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TransactionTestCase, "_fixture_teardown", kept_rows.fixture_teardown)
        yield


@pytest.fixture(autouse=True)
def data_migration_rows(request):
    """Give a transactional test the rows of the data migrations, which a flush removed.

    Each transactional test ends with a flush; unless it kept their tables (tests/kept_rows.py),
    Django then makes the content types and permissions again, but not what data migrations
    wrote. serialized_rollback would reload the first snapshot instead, and collide with those
    remade content types.
    """
    if not _is_transactional(request):
        return
    request.getfixturevalue("transactional_db")
    if kept_rows.rows_kept(DEFAULT_DB_ALIAS):
        return
    # The flush gave content types new ids; the historical manager must not remember old ones.
    _migrated_apps().get_model("contenttypes", "ContentType").objects.clear_cache()
    for module, function in DATA_MIGRATIONS:
        getattr(import_module(module), function)(_migrated_apps(), None)
    kept_rows.remember_rows(DEFAULT_DB_ALIAS)


def _is_transactional(request) -> bool:
    # As pytest-django decides: the marker, or a fixture that needs real transactions.
    marker = request.node.get_closest_marker("django_db")
    if marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")
                   or (marker.args and marker.args[0])):
        return True
    return bool({"transactional_db", "live_server"} & set(request.fixturenames))


@cached
def _migrated_apps():
    """The models as the migrations leave them, as data migrations expect to get them."""
    return MigrationLoader(None, ignore_no_migrations=True).project_state().apps


@pytest.fixture(scope="session")
def static_root(tmp_path_factory):
    """Static files collected and hashed as the image's build does: a process with DEBUG off
    refuses to start without them (portal.E002)."""
    root = tmp_path_factory.mktemp("static")
    manage(production_env(STATIC_ROOT=str(root)), "collectstatic", "--noinput")
    return root


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory, static_root):
    """A SQLite file `manage.py migrate` made, once for the session (some 14 s on a busy
    machine): a test copies it for processes of its own, and leaves it as it is."""
    path = tmp_path_factory.mktemp("migrated") / "db.sqlite3"
    manage(production_env(DATABASE_URL=f"sqlite:///{path}", STATIC_ROOT=str(static_root)),
           "migrate", "--noinput")
    return path


@pytest.fixture(scope="session")
def sandbox():
    server = start_sandbox(host="127.0.0.1", port=0)
    yield server
    server.shutdown()


@pytest.fixture(autouse=True)
def thulium(sandbox, settings):
    """Every test starts with a fresh sandbox and the portal pointed at it."""
    sandbox.state.reset()
    settings.THULIUM_API_URL = sandbox.url
    settings.THULIUM_API_USER = sandbox.user
    settings.THULIUM_API_PASSWORD = sandbox.password
    settings.THULIUM_TIMEOUT = TEST_TIMEOUT
    settings.THULIUM_CONNECT_TIMEOUT = TEST_TIMEOUT
    cache.clear()
    return sandbox


@pytest.fixture(autouse=True)
def default_language():
    """Every test starts in English: a request in Polish leaves its thread's language Polish."""
    translation.deactivate()
    yield
    translation.deactivate()


def make_user(username: str, *groups: str, **fields) -> User:
    """A user in the given role groups (made by the data migration, so they must exist)."""
    user = User.objects.create_user(username, password=PASSWORD, **fields)
    found = Group.objects.filter(name__in=groups)
    assert found.count() == len(groups), f"missing groups among {groups}: see DATA_MIGRATIONS"
    user.groups.set(found)
    return user


@pytest.fixture
def user(db):
    """A campaign manager: edits campaign settings and adds records."""
    return make_user("manager", EDITORS, LOADERS)


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def campaigns(db, thulium) -> dict[str, Campaign]:
    """The sandbox's campaigns, registered through the portal's own sync."""
    campaigns_sync()
    thulium.state.reset()  # forget the sync call: tests count only their own requests
    return {c.thulium_id: c for c in Campaign.objects.all()}


@pytest.fixture
def cache_down(settings):
    """The cache as Redis is when it is down: every call to it raises (nothing listens)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}


def changed_in_thulium_at_the_put(monkeypatch, sandbox, changes: dict) -> None:
    """Change the campaign in Thulium just before the portal's PUT arrives: after the save
    read it, so that only Thulium can see that the values sent no longer fit."""
    put = ThuliumClient.update_campaign

    def changed_then_put(self, campaign_id, sent):
        sandbox.state.update_campaign(campaign_id, changes, lambda stored: [])
        return put(self, campaign_id, sent)

    monkeypatch.setattr(ThuliumClient, "update_campaign", changed_then_put)


def api_calls(sandbox, method=None):
    """What the sandbox received on its API, oldest first."""
    return [
        r for r in sandbox.state.received
        if r["path"].startswith("/api/") and (method is None or r["method"] == method)
    ]


def records_sent(sandbox) -> list[dict]:
    """Every record POSTed to the sandbox, alone or in a batch, oldest first."""
    sent = []
    for call in api_calls(sandbox, "POST"):
        body = call["json"]
        if call["path"].startswith("/api/batch/") and isinstance(body, dict):
            sent += body.get("records") or []
        elif isinstance(body, dict) and "phone_number" in body:
            sent.append(body)
    return sent


def admin_shows(client, obj) -> tuple[bool, bool]:
    """Whether the admin's list links `obj`, and whether its page opens, for the client."""
    admin = f"admin:{obj._meta.app_label}_{obj._meta.model_name}"
    page = reverse(f"{admin}_change", args=[obj.pk])
    listed = f'href="{page}"' in client.get(reverse(f"{admin}_changelist")).content.decode()
    return listed, client.get(page).status_code == 200


def skip_unless_postgresql(connection):
    """PostgreSQL-only tests skip on SQLite; `.ci/run` checks they ran in its PostgreSQL pass."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with "
                    "TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal")
