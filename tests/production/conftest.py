"""Databases, static files and settings that portal processes started by the tests share."""

import os
import shutil

import pytest

from .processes import (
    REDIS_SERVER,
    PostgresDatabase,
    manage,
    postgres_server,
    production_env,
    unreachable_reason,
)

# Passed to `createsuperuser` through the environment, as docs/operations.md does.
ADMIN_PASSWORD = "a-long-admin-password"


def require(reason: str | None):
    """Skip with the reason a real part is missing; under CI, fail instead."""
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run this test: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_database(static_root):
    """A migrated PostgreSQL database of its own, on TEST_DATABASE_URL's server if given."""
    server = postgres_server()
    reason = unreachable_reason(server)
    require(reason and f"needs PostgreSQL: {reason}")
    base = server.rsplit("/", 1)[-1].split("?")[0] or "portal"
    database = PostgresDatabase(f"test_{base}_processes_{os.getpid()}", server).create()
    try:
        manage(production_env(DATABASE_URL=database.url, STATIC_ROOT=str(static_root)),
               "migrate", "--noinput")
        yield database.url
    finally:
        database.drop()


@pytest.fixture(scope="session")
def portal_database(request, tmp_path_factory):
    """The database of this run's kind: PostgreSQL when TEST_DATABASE_URL is, else SQLite
    (a copy of the session's migrated file)."""
    if os.environ.get("TEST_DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        return request.getfixturevalue("postgres_database")
    path = tmp_path_factory.mktemp("portal") / "db.sqlite3"
    shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def redis_url():
    """The machine's Redis."""
    reason = unreachable_reason(REDIS_SERVER)
    require(reason and f"needs Redis: {reason}")
    return REDIS_SERVER


def create_admin(env: dict[str, str], username: str):
    """The first administrator, made the way docs/operations.md says, in the environment
    of the portal's processes (`docker compose run --rm web`)."""
    manage({**env, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD}, "createsuperuser",
           "--noinput", "--username", username, "--email", f"{username}@example.com")
