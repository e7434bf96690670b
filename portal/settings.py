"""Settings, read from the environment and an optional `.env` (see `.env.example`)."""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

# Production must be given its own key; a development key is only tolerated with DEBUG on.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is not set: set it in the environment or .env.")
    SECRET_KEY = "insecure-development-key-never-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "portal",
    "campaigns",
    "records",
    "django_tasks",
    "django_tasks_db",
    "django_rq",
    "imports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.thulium_mode",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The import worker writes from several threads beside the web process: take the write
    # lock up front and wait for it (WAL lets readers go on) rather than fail "locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        transaction_mode="IMMEDIATE", timeout=30,
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://portal")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "campaigns:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("pl", _("Polish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Warsaw")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Thulium. With no THULIUM_API_URL the portal talks to the bundled sandbox.
THULIUM_SANDBOX_PORT = env.int("THULIUM_SANDBOX_PORT", default=8100)
THULIUM_API_URL = env.str("THULIUM_API_URL", default="").rstrip("/")
THULIUM_SANDBOX = not THULIUM_API_URL
if THULIUM_SANDBOX:
    THULIUM_API_URL = f"http://127.0.0.1:{THULIUM_SANDBOX_PORT}/api"
    THULIUM_API_USER = "sandbox"
    THULIUM_API_PASSWORD = "sandbox-password"
else:
    THULIUM_API_USER = env.str("THULIUM_API_USER", default="")
    THULIUM_API_PASSWORD = env.str("THULIUM_API_PASSWORD", default="")
    for _name in ("THULIUM_API_USER", "THULIUM_API_PASSWORD"):
        if not globals()[_name]:
            raise ImproperlyConfigured(f"{_name} is not set: THULIUM_API_URL needs credentials.")
    # Basic auth over plain HTTP would hand the password to anyone on the path.
    if urlsplit(THULIUM_API_URL).scheme != "https":
        raise ImproperlyConfigured("THULIUM_API_URL must start with https://.")
THULIUM_TIMEOUT = env.float("THULIUM_TIMEOUT", default=30.0)
THULIUM_CONNECT_TIMEOUT = env.float("THULIUM_CONNECT_TIMEOUT", default=5.0)
# How long the statuses and agents of a campaign are reused before asking Thulium again.
THULIUM_CHOICES_CACHE_SECONDS = env.int("THULIUM_CHOICES_CACHE_SECONDS", default=600)
# Region used to recognise the same number written nationally or with +48.
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="PL")

# Background work (bulk record imports). "database" needs only the database and
# `manage.py run_worker`; "rq" runs on Redis, for several workers on several machines.
TASK_BACKEND = env.str("TASK_BACKEND", default="database")
_TASK_BACKENDS = {"database": "django_tasks_db.DatabaseBackend", "rq": "django_tasks_rq.RQBackend"}
if TASK_BACKEND not in _TASK_BACKENDS:
    raise ImproperlyConfigured(f"TASK_BACKEND must be one of {sorted(_TASK_BACKENDS)}.")
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[TASK_BACKEND]}}
# An import runs as long as it takes: RQ must not kill it after its default 180 s.
RQ_QUEUES = {
    "default": {"URL": env.str("RQ_REDIS_URL", default="redis://127.0.0.1:6379/0"),
                "DEFAULT_TIMEOUT": -1},
}

# Bulk record imports.
IMPORT_MAX_FILE_SIZE = env.int("IMPORT_MAX_FILE_SIZE", default=20 * 1024 * 1024)
IMPORT_MAX_COLUMNS = env.int("IMPORT_MAX_COLUMNS", default=200)
# Requests to Thulium in flight at once for one import, and an optional cap per second
# (0: none); Thulium documents no rate limit, so the portal throttles itself.
IMPORT_CONCURRENCY = env.int("IMPORT_CONCURRENCY", default=8)
IMPORT_RATE_LIMIT = env.float("IMPORT_RATE_LIMIT", default=0.0)
# Sends of one row when Thulium does not answer properly (timeout, connection, 5xx),
# waiting IMPORT_RETRY_WAIT seconds, doubling (with jitter) up to IMPORT_RETRY_MAX_WAIT.
IMPORT_RETRY_ATTEMPTS = env.int("IMPORT_RETRY_ATTEMPTS", default=4)
IMPORT_RETRY_WAIT = env.float("IMPORT_RETRY_WAIT", default=1.0)
IMPORT_RETRY_MAX_WAIT = env.float("IMPORT_RETRY_MAX_WAIT", default=30.0)
# A worker renews its claim on rows every IMPORT_HEARTBEAT_SECONDS; rows and imports not
# renewed for IMPORT_LEASE_SECONDS belong to a worker that died, and are taken over.
IMPORT_HEARTBEAT_SECONDS = env.float("IMPORT_HEARTBEAT_SECONDS", default=5.0)
IMPORT_LEASE_SECONDS = env.float("IMPORT_LEASE_SECONDS", default=60.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
