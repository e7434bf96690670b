"""Test settings: the project's own, with a fixed key and the database CI chooses.

`TEST_DATABASE_URL` (e.g. postgres://postgres@127.0.0.1:5432/portal) runs the suite on
that server instead of SQLite.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-secret")
os.environ.setdefault("AUDIT_PII_KEY", "tests-only-not-secret-either")

from portal.settings import *  # noqa: E402,F403
from portal.settings import env  # noqa: E402

if os.environ.get("TEST_DATABASE_URL"):
    DATABASES = {"default": env.db_url("TEST_DATABASE_URL")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    # Django's, with a flush after each transactional test that costs less (see there).
    DATABASES["default"]["ENGINE"] = "tests.postgresql"  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: the import tests start worker processes that must see it.
    # TEST_SQLITE_NAME lets two test runs share a checkout.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.environ.get("TEST_SQLITE_NAME", str(BASE_DIR / ".test-db.sqlite3")),  # noqa: F405
    }

# Tests never need collected, hashed static files nor slow password hashing.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The test client and live server speak plain HTTP. Production's HTTPS settings are
# tested through manage.py and gunicorn in tests/production/.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = LANGUAGE_COOKIE_SECURE = False
# Django's default of a connection per request (production keeps them, see settings):
# a connection a live-server or worker thread kept open would outlive its test.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# The tests count an import's tries; riding out an outage has a test of its own.
IMPORT_OUTAGE_MAX_WAIT = 0
