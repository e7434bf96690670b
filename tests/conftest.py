"""Shared fixtures: the Thulium sandbox over real HTTP, users and campaigns."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.utils import translation

from campaigns.models import Campaign
from campaigns.services import campaigns_sync
from portal.thulium.sandbox import start_sandbox

# Short enough that the sandbox's timeout fault fails fast, long enough for a loaded CI box.
TEST_TIMEOUT = 1.0
PASSWORD = "a-long-test-password"
# The groups of roles/migrations/0001_groups.py.
EDITORS, LOADERS, ADMINISTRATORS = "Campaign editors", "Record loaders", "Administrators"


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
    assert found.count() == len(groups), f"missing groups among {groups}"
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


def api_calls(sandbox, method=None):
    """What the sandbox received on its API, oldest first."""
    return [
        r for r in sandbox.state.received
        if r["path"].startswith("/api/") and (method is None or r["method"] == method)
    ]
