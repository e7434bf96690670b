"""Settings, read from the environment and an optional `.env` (see `.env.example`)."""

import importlib.util
import logging
import math
import zoneinfo
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
import phonenumbers
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


class LiteralEnv(environ.Env):
    """django-environ's reader, with every value taken as written. django-environ took a
    value starting with "$" for the name of another variable (its escape_proxy only turns
    "\\$" into "$"): THULIUM_API_PASSWORD=$Ecret-Pa55 was "not set", and =$HOME sent HOME's
    value to Thulium as the password; so were SECRET_KEY and every other secret."""

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        if var not in self.ENVIRON:
            return super().get_value(var, cast=cast, default=default,
                                     parse_default=parse_default)
        return self.parse_value(self.ENVIRON[var], cast)


env = LiteralEnv()
# Only when there is one: django-environ logs its absence, and under gunicorn's JSON logging
# each start of an image, which never holds one, said ".env not found".
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")


def env_names(name: str, default: list[str]) -> list[str]:
    """A comma-separated variable's items, without the spaces people write after commas
    ("staff, Auditors"): django-environ keeps them, and " Auditors" names nothing."""
    return [item.strip() for item in env.list(name, default=default) if item.strip()]


def env_number(name: str, *, default, least, above: bool = False, most=None):
    """A number setting (an int if its default is one), refused at start with a line that
    names it when it is not a number or is out of range: IMPORT_CONCURRENCY=0 left every
    import running for ever, and a timeout of 0 failed every call to Thulium later, with a
    traceback that named neither. Read with int() or float(): django-environ's own parsers
    dropped what they could not read ("1e3" was 13.0, "5m" 5, "ten" an error naming none)."""
    kind = int if isinstance(default, int) else float
    try:
        value = kind(env.str(name, default=str(default)))
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number.") from None
    if not math.isfinite(value):
        raise ImproperlyConfigured(f"{name} must be a number.")
    if value < least or (above and value == least):
        raise ImproperlyConfigured(
            f"{name} must be {'more than' if above else 'at least'} {least}, not {value}.")
    if most is not None and value > most:
        raise ImproperlyConfigured(f"{name} must be at most {most}, not {value}.")
    return value


_YES_NO = {"true": True, "1": True, "yes": True, "on": True,
           "false": False, "0": False, "no": False, "off": False}


def env_flag(name: str, *, default: bool) -> bool:
    """A yes/no setting, refused at start unless it reads true/false, 1/0, yes/no or on/off:
    django-environ took any other word for false, so FOUR_EYES=enabled turned four-eyes
    off and BEHIND_PROXY=ture looped every page through redirects."""
    text = env.str(name, default=str(default)).strip().lower()
    if text not in _YES_NO:
        raise ImproperlyConfigured(f"{name} must be true or false (or 1/0, yes/no, on/off), "
                                   f"not {text!r}.")
    return _YES_NO[text]


def env_time_zone(name: str, *, default: str) -> str:
    """A time zone's name, refused at start with a line that names it unless zoneinfo can
    load it: an empty one (a blank TIME_ZONE= in .env) started the portal and then failed
    every page showing a date, and a misspelt one ended the start in Django's traceback."""
    text = env.str(name, default=default)
    try:
        zoneinfo.ZoneInfo(text)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ImproperlyConfigured(f"{name} must be a time zone such as Europe/Warsaw, "
                                   f"not {text!r}.") from None
    return text


def env_phone_region(name: str, *, default: str) -> str:
    """A region code phonenumbers knows, read whatever its case and spaces ("pl", "PL "),
    refused at start with a line that names it otherwise: phonenumbers knows only "PL", so
    "pl" or "POLAND" keyed "601 234 567" apart from "+48 601 234 567", and a number on the
    do-not-call list was loaded and sent to Thulium."""
    text = env.str(name, default=default)
    if text.strip().upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ImproperlyConfigured(f"{name} must be a region code such as PL, not {text!r}.")
    return text.strip().upper()


DEBUG = env_flag("DEBUG", default=False)

# Production must be given its own key; a development key is only tolerated with DEBUG on.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is not set: set it in the environment or .env.")
    SECRET_KEY = "insecure-development-key-never-use-in-production"

# The key of the digests that stand for personal data in the audit chain (audit.personal):
# with it a number can be erased and the chain still proves nothing else changed. Keep it
# as safe as SECRET_KEY and apart from the database; docs/operations.md says how to rotate.
AUDIT_PII_KEY = env.str("AUDIT_PII_KEY", default="")
if not AUDIT_PII_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("AUDIT_PII_KEY is not set: set it in the environment or .env.")
    AUDIT_PII_KEY = "insecure-development-audit-key-never-use-in-production"
# Keys used before a rotation: entries digested under them are still verified and searched.
AUDIT_PII_RETIRED_KEYS = env_names("AUDIT_PII_RETIRED_KEYS", default=[])

ALLOWED_HOSTS = env_names("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_names("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS: secure by default in production; only a developer's DEBUG turns these off.
# Behind a TLS-terminating proxy, X-Forwarded-Proto tells whether the user came over HTTPS.
# Trust it only behind a proxy that overwrites it, or any client could claim HTTPS.
if env_flag("BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The same goes for X-Request-ID: trusted from any client, a browser chose the id its audit
# entries record as their portal request id.
TRUST_REQUEST_ID_HEADER = env_flag("TRUST_REQUEST_ID_HEADER", default=False)
SECURE_SSL_REDIRECT = env_flag("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env_number("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000,
                                 least=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_flag("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env_flag("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_flag("CSRF_COOKIE_SECURE", default=not DEBUG)

INSTALLED_APPS = [
    "portal.apps.PortalAdminConfig",  # django.contrib.admin, with the portal's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",  # intcomma: counts as the language groups digits
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    # The libraries' apps under the portal's names, in the reader's language.
    "portal.library_apps.LoginAttemptsConfig",  # axes
    "django_otp",
    "portal.library_apps.AuthenticatorAppsConfig",  # django_otp.plugins.otp_totp
    "portal.library_apps.RecoveryCodesConfig",  # django_otp.plugins.otp_static
    "portal",
    "campaigns",
    "records",
    "audit",
    "roles",
    "django_tasks",
    "portal.library_apps.BackgroundTasksConfig",  # django_tasks_db
    "portal.library_apps.TaskQueuesConfig",  # django_rq
    "imports",
    # After django-otp's plugins: its admin takes their device pages out of the admin.
    "twofactor",
    "donotcall",
    "notices",
    "sso",
]

MIDDLEWARE = [
    "portal.middleware.RequestIdMiddleware",
    "portal.health.HealthCheckMiddleware",
    "portal.metrics.page.MetricsMiddleware",
    # After the two above: probes and scrapes are not counted as requests of a view.
    "portal.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's, with a page saying logins cannot be kept when their cache is down.
    "portal.session_outage.SessionOutageMiddleware",
    "portal.middleware.SessionRenewalMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Early, before any query, and after the language the 400 page is shown in.
    "portal.middleware.AdminQueryNulMiddleware",
    # A login without a language cookie gets the one the user chose before.
    "notices.middleware.LanguageKeptMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF's check reads a post's body: refuses one too large to read (413).
    "portal.middleware.TooLargeBodyMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Ends a password session once LOCAL_LOGIN=false no longer lets its user use one.
    "sso.middleware.PasswordSessionMiddleware",
    # Tells whether this session passed the second factor (request.user.is_verified()).
    "django_otp.middleware.OTPMiddleware",
    "portal.middleware.LoginThenBackMiddleware",
    # Keeps a logged-in user's pages, which show people's data, out of the browser's cache.
    "portal.middleware.NotStoredMiddleware",
    # Holds a session to the second factor it owes (twofactor/middleware.py).
    "twofactor.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "portal.middleware.NotAllowedPageMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
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
                "portal.context_processors.page_to_come_back_to",
                "portal.context_processors.kept_input",
                "campaigns.context_processors.four_eyes",
                "sso.context_processors.single_sign_on",
            ],
        },
    },
]

# The URL parsers' own words quote what they took for the port: with a / # or ? left in a
# password, the password's start. The refusal says what to mend and quotes nothing.
_URL_UNREADABLE = ("its port is not a number, or its password holds a / # ? or @ not "
                   "written %2F, %23, %3F or %40.")


def url_whole(url: str) -> str:
    """`url`; ValueError, as the URL parsers raise for a port that is not a number, when an
    @ lies past its host part: a / # or ? left in the password ended the host part there,
    and a password of digits before it passed for the port (postgres://u:123/abc@db/portal
    was read as host u, port 123, and started)."""
    host_part = urlsplit(url).netloc
    if host_part and "@" not in host_part and "@" in url:
        past_host = url[url.index(host_part) + len(host_part):]
        # An @ in a query's value (?application_name=ops@prod) comes after its "=".
        if "=" not in past_host[:past_host.index("@")]:
            raise ValueError("an @ past the URL's host part")
    return url


try:
    DATABASES = {"default": env.db_url_config(url_whole(
        env.str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")))}
except ValueError:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {_URL_UNREADABLE}") from None
# django-environ takes an unknown scheme for an engine's name (postgress:// gave the engine
# "postgress"), and Django's refusal of it came as a traceback naming no variable. The
# portal's audit triggers and roles know PostgreSQL and SQLite only.
if DATABASES["default"].get("ENGINE") not in {"django.db.backends.postgresql",
                                              "django.db.backends.sqlite3"}:
    raise ImproperlyConfigured("DATABASE_URL is not a PostgreSQL or SQLite URL (postgres://... "
                               "or sqlite:///...).")
if not DATABASES["default"].get("NAME"):
    raise ImproperlyConfigured("DATABASE_URL names no database (postgres://host/name).")
# A connection kept for the next request spares opening one per request (the development
# server's thread per request would only pile them up, hence 0 with DEBUG on).
DATABASES["default"].setdefault(
    "CONN_MAX_AGE", env_number("CONN_MAX_AGE", default=0 if DEBUG else 60, least=0)
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work during a write and makes each commit one cheap append;
    # IMMEDIATE takes the write lock up front (and waits for it) instead of failing with
    # "database is locked" when the import worker writes beside the web process.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        transaction_mode="IMMEDIATE", timeout=30,
    )
# A kept connection is tested before reuse, so a database restart costs no error page.
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that does not answer fails /healthz within seconds instead of hanging it.
    # connect_timeout bounds opening a connection; TCP keepalives and tcp_user_timeout
    # (ms) give up on an open one after about 10 s of silence (a failover, a dropped
    # network), where the kernel waited 15 minutes or more. DATABASE_URL's query may
    # set any of them (?keepalives_idle=30).
    for _option, _value in {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 4,
                            "keepalives_interval": 2, "keepalives_count": 3,
                            "tcp_user_timeout": 10_000}.items():
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(_option, _value)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Several gunicorn workers or machines share only what lives in the database or Redis:
# production sets CACHE_URL to one of them (`check --deploy` says so otherwise).
try:
    CACHES = {"default": env.cache_url_config(url_whole(
        env.str("CACHE_URL", default="locmemcache://portal")))}
except ValueError:
    raise ImproperlyConfigured(f"CACHE_URL is not a cache URL: {_URL_UNREADABLE}") from None
# A Redis that takes the connection and never answers held each cache call for redis-py's
# 5 s default, and every page using the cache with it; one that answers does so in
# milliseconds. After this long the call is given up as a cache down (portal.caching).
CACHE_SOCKET_TIMEOUT = env_number("CACHE_SOCKET_TIMEOUT", default=0.25, least=0, above=True)
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    for _option in ("socket_connect_timeout", "socket_timeout"):
        CACHES["default"].setdefault("OPTIONS", {}).setdefault(_option, CACHE_SOCKET_TIMEOUT)
# Lets several portals share one Redis without reading each other's entries.
CACHES["default"].setdefault("KEY_PREFIX", env.str("CACHE_KEY_PREFIX", default=""))
SESSION_ENGINE = env.str("SESSION_ENGINE", default="django.contrib.sessions.backends.db")


def module_exists(name: str) -> bool:
    """Whether `name` is a module Python can find, without importing it (a session engine's
    imports may need the settings being read)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # its package is no package, or is not there
        return False


# SESSION_ENGINE=cache passed `check`, and every gunicorn worker then failed to boot with
# "ModuleNotFoundError: No module named 'cache'", naming no setting.
if not module_exists(SESSION_ENGINE):
    raise ImproperlyConfigured("SESSION_ENGINE must name a module such as "
                               "django.contrib.sessions.backends.cache, not "
                               f"{SESSION_ENGINE!r}.")

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
# The portal's catalogue, then the Polish of the libraries' admin pages (locale_libraries/pl):
# the first wins on a word both hold. makemessages writes the portal's strings to the first.
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_libraries"]
# Dates to the second in both languages; everything else (numbers too) is Django's own.
FORMAT_MODULE_PATH = ["portal.formats"]
TIME_ZONE = env_time_zone("TIME_ZONE", default="Europe/Warsaw")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Every form focuses its first field with an error when it comes back refused.
FORM_RENDERER = "portal.focus.FocusingFormRenderer"
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Thulium. With no THULIUM_API_URL the portal talks to the bundled sandbox.
THULIUM_SANDBOX_PORT = env_number("THULIUM_SANDBOX_PORT", default=8100, least=1, most=65535)
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
    # "https:/acme..." has none, and every call to Thulium failed as "unavailable".
    if not urlsplit(THULIUM_API_URL).hostname:
        raise ImproperlyConfigured("THULIUM_API_URL names no host "
                                   "(https://acme.thulium.com/api).")
THULIUM_TIMEOUT = env_number("THULIUM_TIMEOUT", default=30.0, least=0, above=True)
THULIUM_CONNECT_TIMEOUT = env_number("THULIUM_CONNECT_TIMEOUT", default=5.0, least=0,
                                     above=True)
# How long the statuses and agents of a campaign are reused before asking Thulium again.
THULIUM_CHOICES_CACHE_SECONDS = env_number("THULIUM_CHOICES_CACHE_SECONDS", default=600,
                                           least=0)
# How long the campaign list reuses GET outbounds/stats (records and completion).
CAMPAIGN_STATS_CACHE_SECONDS = env_number("CAMPAIGN_STATS_CACHE_SECONDS", default=30, least=0)
# What a page only shows from Thulium (a campaign's figures, its settings when its form
# opens, its statuses and agents) is waited for this long, not THULIUM_TIMEOUT: a Thulium
# that hangs must not hold the page, and its web worker, for what the page can do without.
THULIUM_VIEW_TIMEOUT = env_number("THULIUM_VIEW_TIMEOUT", default=5.0, least=0, above=True)
# PUTs in flight at once when several campaigns are changed together.
CAMPAIGN_BULK_CONCURRENCY = env_number("CAMPAIGN_BULK_CONCURRENCY", default=8, least=1)
# A web request's time limit, which gunicorn.conf.py reads from the same variable: a change
# to several campaigns starts no PUT that could still be waiting for Thulium by then.
GUNICORN_TIMEOUT = env_number("GUNICORN_TIMEOUT", default=60, least=1)
# Region used to recognise the same number written nationally or with +48.
PHONE_DEFAULT_REGION = env_phone_region("PHONE_DEFAULT_REGION", default="PL")

# Background work (bulk record imports). "database" needs only the database and
# `manage.py run_worker`, as many as wanted on any machines; "rq" queues them in Redis.
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
IMPORT_MAX_FILE_SIZE = env_number("IMPORT_MAX_FILE_SIZE", default=20 * 1024 * 1024, least=1)
IMPORT_MAX_COLUMNS = env_number("IMPORT_MAX_COLUMNS", default=200, least=1)
# A file up to this size is checked while its uploader waits (some 25,000 rows; a
# workbook by what it unpacks to, imports.previewing.checked_inline); a larger one by a
# worker, as checking 20 MB of rows can take longer than a web request may.
IMPORT_CHECK_INLINE_BYTES = env_number("IMPORT_CHECK_INLINE_BYTES", default=1024 * 1024,
                                       least=0)
# Calls to Thulium in flight at once for one import, and an optional cap per second
# (0: none); Thulium documents no rate limit, so the portal throttles itself.
IMPORT_CONCURRENCY = env_number("IMPORT_CONCURRENCY", default=8, least=1)
# Rows sent in one batch call (POST batch/outbounds/:id/records); 1: one POST per row.
# Thulium documents no limit; its batch answer grows with it.
IMPORT_BATCH_SIZE = env_number("IMPORT_BATCH_SIZE", default=100, least=1)
IMPORT_RATE_LIMIT = env_number("IMPORT_RATE_LIMIT", default=0.0, least=0)
# Tries of one batch (a send, or a check in Thulium after a lost answer) when Thulium does
# not answer properly (timeout, connection, 5xx), waiting IMPORT_RETRY_WAIT seconds,
# doubling (with jitter) up to IMPORT_RETRY_MAX_WAIT.
IMPORT_RETRY_ATTEMPTS = env_number("IMPORT_RETRY_ATTEMPTS", default=4, least=1)
IMPORT_RETRY_WAIT = env_number("IMPORT_RETRY_WAIT", default=1.0, least=0)
IMPORT_RETRY_MAX_WAIT = env_number("IMPORT_RETRY_MAX_WAIT", default=30.0, least=0)
# However many tries that takes, a batch is tried for IMPORT_OUTAGE_MAX_WAIT seconds since
# its first: a shorter outage of Thulium (5xx, no connection) fails no row.
IMPORT_OUTAGE_MAX_WAIT = env_number("IMPORT_OUTAGE_MAX_WAIT", default=300.0, least=0)
# Thulium (or a gateway before it) answering 429, too many requests: the whole push waits
# as long as its Retry-After says (IMPORT_RETRY_WAIT without one), and the batch is tried
# again without spending a try, for up to IMPORT_THROTTLED_MAX_WAIT seconds in all.
IMPORT_THROTTLED_MAX_WAIT = env_number("IMPORT_THROTTLED_MAX_WAIT", default=600.0, least=0)
# A worker renews its claim on rows every IMPORT_HEARTBEAT_SECONDS; rows and imports not
# renewed for IMPORT_LEASE_SECONDS belong to a worker that died, and are taken over. Keep
# it longer than a call (THULIUM_CONNECT_TIMEOUT + THULIUM_TIMEOUT): a sending thread
# renews its rows' lease just before each call, which then ends within it however late the
# heartbeat is (imports.sending).
IMPORT_HEARTBEAT_SECONDS = env_number("IMPORT_HEARTBEAT_SECONDS", default=5.0, least=0,
                                      above=True)
IMPORT_LEASE_SECONDS = env_number("IMPORT_LEASE_SECONDS", default=60.0, least=0, above=True)
# Days an import keeps its rows' numbers and fields after it ended (or after its upload,
# when it was never sent); the worker then clears them (imports.retention). 0: kept.
IMPORT_KEEP_DAYS = env_number("IMPORT_KEEP_DAYS", default=90, least=0)
# Days a do-not-call entry is kept after its end (its "until" day) passed; the worker then
# deletes it, number and note (donotcall.services.suppressions_clear_expired). 0: kept.
DONOTCALL_KEEP_DAYS = env_number("DONOTCALL_KEEP_DAYS", default=30, least=0)
# The most numbers one do-not-call upload takes, all written within its request
# (donotcall.services.suppressions_upload): 200,000 took 31-35 s on PostgreSQL on a shared
# machine under load, some 6,000 a second, so 250,000 end within gunicorn's 60 s timeout
# even there. A larger file is refused next to its field, saying the most and asking to
# split it.
DONOTCALL_UPLOAD_MOST = env_number("DONOTCALL_UPLOAD_MOST", default=250_000, least=1)

# One line per request and per Thulium call, with the request id; `json` for collectors.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be plain or json.")
# In any case: logging knows upper-case names only, and "debug" ended the start in
# "ValueError: Unable to configure root logger", naming no variable.
_log_level = env.str("LOG_LEVEL", default="INFO")
if _log_level.strip().upper() not in logging.getLevelNamesMapping():
    raise ImproperlyConfigured("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, "
                               f"not {_log_level!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "portal.logging.RequestIdFilter"}},
    "formatters": {
        "plain": {"class": "portal.logging.PlainFormatter"},
        "json": {"()": "portal.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": _log_level.strip().upper()},
}

# Prometheus metrics at /metrics (docs/operations.md, "Metrics"), for a scraper sending
# "Authorization: Bearer <METRICS_TOKEN>"; without a token the page does not exist.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# The worker's own /metrics (its calls to Thulium) on this port; 0: not served.
WORKER_METRICS_PORT = env_number("WORKER_METRICS_PORT", default=0, least=0, most=65535)
# gunicorn.conf.py sets it for its workers; any other process given it must find the
# folder, or its first count (after a Thulium call) would fail instead of the start.
_metrics_dir = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if _metrics_dir and not Path(_metrics_dir).is_dir():
    raise ImproperlyConfigured(f"PROMETHEUS_MULTIPROC_DIR is not a folder: {_metrics_dir}")

# --- Safeguards for risky campaign changes -------------------------------------------
# On: a risky change (see campaigns/risk.py) waits for a second editor's approval.
FOUR_EYES = env_flag("FOUR_EYES", default=False)
# Scheduled changes (campaigns/scheduling.py): the worker looks for due ones every
# SCHEDULE_POLL_SECONDS; one whose time passed while no worker ran is sent late only
# within SCHEDULE_GRACE_MINUTES, else marked missed and never sent.
SCHEDULE_POLL_SECONDS = env_number("SCHEDULE_POLL_SECONDS", default=10.0, least=0,
                                   above=True)
SCHEDULE_GRACE_MINUTES = env_number("SCHEDULE_GRACE_MINUTES", default=15, least=0)

# --- Security hardening: sessions, cookies, framing, CSP, login throttling -----------
# (Kept in one block so production settings added elsewhere merge beside it.)
# A session ends after this many seconds without a request; requests renew it, at most
# once a minute (portal/middleware.py) rather than with a write on every request. Under a
# minute no one could fill in a form before being logged out (0 logged out at once).
SESSION_COOKIE_AGE = env_number("SESSION_IDLE_SECONDS", default=1800, least=60)
# Cookies travel over HTTPS only in production (see SESSION_COOKIE_SECURE above).
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
# A language chosen is kept past the browser's session (Django's default), for a year.
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
SESSION_COOKIE_HTTPONLY = CSRF_COOKIE_HTTPONLY = LANGUAGE_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = LANGUAGE_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
# Error reports hide the Thulium password even inside the HTTP library's own frames.
DEFAULT_EXCEPTION_REPORTER_FILTER = "portal.error_reports.ThuliumSecretFilter"
# Only the portal's own files: no inline script or style, no other origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Bootstrap draws its form controls' icons as data: SVG images.
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
AUTHENTICATION_BACKENDS = [
    # Refuses password logins while an account or address is locked out, before checking
    # passwords (django-axes; sign-ons through the provider are the provider's to judge).
    "portal.login_throttling.PasswordLockoutBackend",
    # ModelBackend's rules, with a user's permissions read in one query.
    "roles.backends.RoleBackend",
]
# After this many failed logins the account name and the address are each locked out.
AXES_FAILURE_LIMIT = env_number("LOGIN_FAILURE_LIMIT", default=5, least=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_number("LOGIN_LOCKOUT_MINUTES", default=15,
                                                          least=1))
# The account name and the address, but a logged-in user's own forms (the password
# change, the second factor's) only the account (portal.login_throttling).
AXES_LOCKOUT_PARAMETERS = "portal.login_throttling.lockout_parameters"
# A login clears its own account's failures only (portal.login_throttling): axes' reset
# also cleared every failure from the login's address, so anyone with an account could
# wipe the count of codes they were guessing for another one, and guess on for ever.
AXES_RESET_ON_SUCCESS = False
# Record who and from where (axes hides both by default); passwords are always masked, and
# so are the second factor's codes, and the page a login would go back to: its address
# may hold a search for a person's number ("?number=601..."), which no erasure reaches.
# A wrong code for new recovery codes, or a wrong old password, counts too: its form's
# code and passwords (the new one as well) are masked like the login's.
AXES_SENSITIVE_PARAMETERS = ["code", "next", "renew-code", "old_password", "new_password1",
                             "new_password2"]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Its log lines name the address only: the name typed may be a password.
AXES_CLIENT_STR_CALLABLE = "portal.login_throttling.login_described"
# Days django-axes' record of each login (account, address, browser, when) is kept; the
# worker clears older ones (portal.login_records). 0: kept.
LOGIN_LOG_KEEP_DAYS = env_number("LOGIN_LOG_KEEP_DAYS", default=180, least=0)
# Behind proxies REMOTE_ADDR is the proxy's: read the client from X-Forwarded-For instead.
TRUSTED_PROXY_COUNT = env_number("TRUSTED_PROXY_COUNT", default=0, least=0)
AXES_CLIENT_IP_CALLABLE = "portal.login_throttling.client_ip"
# Cut to what the lockout tables hold: a very long name typed at login must not fail it.
AXES_USERNAME_CALLABLE = "portal.login_throttling.login_username"

# --- Two-factor login (twofactor/) -----------------------------------------------------
# Who must log in with a second factor: "staff" (is_staff users) and group names, comma
# separated, e.g. "staff,Auditors". Anyone may set one up; these cannot work without it.
REQUIRE_2FA_FOR = env_names("REQUIRE_2FA_FOR", default=[])
# The name authenticator apps show beside the account.
OTP_TOTP_ISSUER = "Thulium Outbound Portal"
# django-axes counts wrong codes like wrong passwords and locks out after
# LOGIN_FAILURE_LIMIT of them (at the login, and on the forms turning two-factor off or
# making new recovery codes): one lockout rule, so django-otp's own growing delays are off.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0

# --- E-mail notices (notices/) -----------------------------------------------------------
# The mail server, e.g. smtp+tls://user:password@mail.example.com:587 (STARTTLS),
# smtp+ssl://...:465, smtp://127.0.0.1:25. Unset: mails are written to the worker's log
# with DEBUG on, and dropped otherwise.
# Read into EMAIL_HOST, EMAIL_HOST_PASSWORD... (no setting keeps the URL: error pages hide
# settings named like passwords, and this name is not).
_email_url = env.str("EMAIL_URL", default="") or ("consolemail://" if DEBUG else "dummymail://")
# django-environ reads smtps:// as STARTTLS, mail tools as TLS from the first byte (port
# 465, where a STARTTLS send times out): refused, so that no one guesses.
if urlsplit(_email_url).scheme == "smtps":
    raise ImproperlyConfigured(
        "EMAIL_URL may not start with smtps://, which means STARTTLS to the portal and TLS "
        "from the first byte to most mail tools: write smtp+ssl:// for TLS from the first "
        "byte (port 465) or smtp+tls:// for STARTTLS (port 587).")
try:
    vars().update(env.email_url_config(url_whole(_email_url)))
except ValueError:
    raise ImproperlyConfigured(f"EMAIL_URL is not a mail server URL: {_URL_UNREADABLE}") from None
EMAIL_TIMEOUT = env_number("EMAIL_TIMEOUT", default=30, least=1)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portal@localhost")
# The portal's public address: the links in mails start with it.
PORTAL_URL = env.str("PORTAL_URL", default="http://127.0.0.1:8000").rstrip("/")
# Sent and given-up notices leave the outbox this many days after they were queued (0:
# never); the worker clears them once an hour.
NOTICES_KEEP_DAYS = env_number("NOTICES_KEEP_DAYS", default=30, least=0)
# A notice the mail server has not taken this many hours after it was queued is given up: a
# server down over a weekend still gets what waited for it.
NOTICES_GIVE_UP_HOURS = env_number("NOTICES_GIVE_UP_HOURS", default=72, least=1)
# The worker sends the notices due every NOTICES_POLL_SECONDS.
NOTICES_POLL_SECONDS = env_number("NOTICES_POLL_SECONDS", default=5.0, least=0, above=True)
# The worker verifies the audit trail when the last check is this many hours old (0: never;
# then run `manage.py verify_audit` from cron).
AUDIT_VERIFY_HOURS = env_number("AUDIT_VERIFY_HOURS", default=24.0, least=0)
# PostgreSQL processes that read the log for a CSV export beside the one sending it to the
# web process (its max_parallel_workers_per_gather). The web process formats no faster
# than one helps: more only take turns with it, and with each other, for the CPUs.
AUDIT_EXPORT_DATABASE_WORKERS = env_number("AUDIT_EXPORT_DATABASE_WORKERS", default=1, least=0)
# --- Single sign-on with OpenID Connect (sso/, docs/operations.md) ---------------------
# Off unless OIDC_ISSUER is set; the provider's endpoints come from
# OIDC_ISSUER/.well-known/openid-configuration. mozilla-django-oidc reads the OIDC_* names.
OIDC_ISSUER = env.str("OIDC_ISSUER", default="").rstrip("/")
OIDC_RP_CLIENT_ID = env.str("OIDC_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET", default="")
OIDC_PROVIDER_NAME = (env.str("OIDC_PROVIDER_NAME", default="")
                      or urlsplit(OIDC_ISSUER).hostname or "")
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="groups")
OIDC_RP_SCOPES = env.str("OIDC_SCOPES", default="openid email profile")
OIDC_TIMEOUT = env_number("OIDC_TIMEOUT", default=10.0, least=0, above=True)
OIDC_USE_PKCE = True
OIDC_AUTHENTICATION_CALLBACK_URL = "sso:callback"
# Off: only staff may log in with a password; everyone else signs in at the provider.
LOCAL_LOGIN = env_flag("LOCAL_LOGIN", default=True)


def _group_map(text: str) -> dict[str, str]:
    """"cc-editors=Campaign editors,cc-audit=Auditors": claim value to portal group."""
    pairs = [item.partition("=") for item in text.split(",") if item.strip()]
    if any(not sep or not value.strip() or not group.strip() for value, sep, group in pairs):
        raise ImproperlyConfigured("OIDC_GROUP_MAP must read claim-value=Group name, comma "
                                   "separated, e.g. cc-editors=Campaign editors.")
    return {value.strip(): group.strip() for value, _sep, group in pairs}


OIDC_GROUP_MAP = _group_map(env.str("OIDC_GROUP_MAP", default=""))
if OIDC_ISSUER:
    for _name in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"):
        if not env.str(_name, default=""):
            raise ImproperlyConfigured(f"{_name} is not set: OIDC_ISSUER needs it.")
    # The client secret and the tokens must not cross the network in clear.
    _issuer = urlsplit(OIDC_ISSUER)
    if _issuer.scheme != "https" and _issuer.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ImproperlyConfigured("OIDC_ISSUER must start with https://.")
    AUTHENTICATION_BACKENDS.append("sso.backends.ProviderBackend")
    # Logging out is a form whose answer redirects to the provider's end_session_endpoint.
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(
        f"{_issuer.scheme}://{_issuer.netloc}")
elif not LOCAL_LOGIN:
    raise ImproperlyConfigured("LOCAL_LOGIN=false needs OIDC_ISSUER: only staff could log in.")
