"""`check --deploy` warnings for state kept inside one process, which several would not share,
for a proxy whose clients would all look alike, for e-mail notices that would go nowhere and
for calls to the sandbox instead of Thulium; at every check, for a variable set under a
misspelling of the portal's name for it; and, at every start, the refusal of a STATIC_ROOT
collectstatic never filled."""

import difflib
import os
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.checks import Error, Tags, Warning, register

PROCESS_LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
# Mail backends that deliver nothing: the dummy one is what production gets without EMAIL_URL.
UNDELIVERING_MAIL_BACKENDS = (
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
)
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


@register(Tags.caches, deploy=True)
def check_shared_cache(app_configs, **kwargs):
    if settings.CACHES["default"]["BACKEND"] not in PROCESS_LOCAL_CACHES:
        return []
    if settings.SESSION_ENGINE == "django.contrib.sessions.backends.cache":
        return [Error(
            "Sessions are kept in a cache inside each process: a user is logged out whenever "
            "another gunicorn worker or machine answers.",
            hint="Set CACHE_URL to redis://... or keep SESSION_ENGINE at its default.",
            id="portal.E001",
        )]
    return [Warning(
        "The cache lives inside each process: gunicorn workers and machines each keep their "
        "own copy of the campaigns' statuses and agents, and a reload reaches only one.",
        hint="Set CACHE_URL to redis://host:6379/0 or dbcache://portal_cache "
        "(then run manage.py createcachetable).",
        id="portal.W001",
    )]


@register(Tags.security, deploy=True)
def check_client_addresses(app_configs, **kwargs):
    if not settings.SECURE_PROXY_SSL_HEADER or settings.TRUSTED_PROXY_COUNT > 0:
        return []
    return [Warning(
        "Behind a proxy (BEHIND_PROXY) every browser comes from the proxy's address: login "
        "lockouts count all users as one, and five wrong passwords from anyone lock "
        "everyone out.",
        hint="Set TRUSTED_PROXY_COUNT to the number of proxies that append to "
        "X-Forwarded-For (1 for the proxy of docs/operations.md).",
        id="portal.W002",
    )]


@register(deploy=True)
def check_mail_server(app_configs, **kwargs):
    if settings.EMAIL_BACKEND not in UNDELIVERING_MAIL_BACKENDS:
        return []
    return [Warning(
        "E-mail notices are dropped: no mail server is set, and every notice is marked "
        "sent though none was.",
        hint="Set EMAIL_URL to smtp+tls://user:password@mail.example.com:587 "
        '(docs/operations.md, "E-mail notices").',
        id="portal.W003",
    )]


@register(deploy=True)
def check_portal_url(app_configs, **kwargs):
    host = urlsplit(settings.PORTAL_URL).hostname
    if host and host not in LOOPBACK_HOSTS:
        return []
    return [Warning(
        f"Every link in the portal's e-mails starts with PORTAL_URL '{settings.PORTAL_URL}', "
        "which no other computer reaches.",
        hint="Set PORTAL_URL to the portal's public address, e.g. https://portal.example.com.",
        id="portal.W004",
    )]


@register(deploy=True)
def check_thulium_url(app_configs, **kwargs):
    """Production without THULIUM_API_URL (docker run, another machine) called the sandbox's
    address, where nothing listens, and the checklist was clean."""
    if not settings.THULIUM_SANDBOX or settings.DEBUG:
        return []
    return [Warning(
        "THULIUM_API_URL is not set: the portal calls the sandbox at "
        f"{settings.THULIUM_API_URL}, not Thulium, and no change or record reaches Thulium.",
        hint="Set THULIUM_API_URL, THULIUM_API_USER and THULIUM_API_PASSWORD "
        '(docs/operations.md, "Configure a real Thulium account").',
        id="portal.W006",
    )]


# The variables .env.example documents, set or commented out: every one the portal reads
# (tests/production/test_deploy_settings.py holds the two to one list).
DOCUMENTED_VARIABLE = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def portal_variables() -> set[str]:
    """The names of the variables the portal reads."""
    return set(DOCUMENTED_VARIABLE.findall((settings.BASE_DIR / ".env.example").read_text()))


def meant_variable(name: str, known: set[str]) -> str | None:
    """The portal's variable that `name` looks like, written in another case, misspelt
    (FOUR_EYE, TIMEZONE) or with whole words more or fewer (FOUR_EYES_ENABLED, REQUIRE_2FA);
    None for one like none, or one of another program built on the portal's name
    (TEST_DATABASE_URL, REDIS_URL beside RQ_REDIS_URL)."""
    name = name.upper()
    alike = [known_name for known_name in known if not name.endswith(f"_{known_name}")
             and not known_name.endswith(f"_{name}")]
    if close := difflib.get_close_matches(name, alike, n=1, cutoff=0.8):
        return close[0]
    # Words more or fewer than a name of two words at least (not EMAIL for EMAIL_URL).
    longer = [known_name for known_name in alike if "_" in min(name, known_name, key=len)
              and (name.startswith(f"{known_name}_") or known_name.startswith(f"{name}_"))]
    return difflib.get_close_matches(name, longer, n=1, cutoff=0)[0] if longer else None


@register()
def check_variable_names(app_configs, **kwargs):
    """FOUR_EYE=true or REQUIRE_2FA=staff started the portal with the safeguard off, and
    nothing said so."""
    known = portal_variables()
    meant = {name: meant_variable(name, known) for name in os.environ if name not in known}
    return [Warning(
        f"{name} is set, but the portal reads no such variable, and it changes nothing: "
        f"is it a misspelling of {meant[name]}?",
        hint=f"Rename {name} to {meant[name]} in .env or the environment, or remove it.",
        id="portal.W005",
    ) for name in sorted(meant) if meant[name]]


# Not tagged staticfiles: collectstatic runs those, and would refuse to fill the folder.
@register()
def check_static_manifest(app_configs, **kwargs):
    """Every page names its static files through the manifest collectstatic writes: without
    it each page failed ("Missing staticfiles manifest entry") while /healthz answered."""
    storage = staticfiles_storage
    if settings.DEBUG or not isinstance(storage, ManifestFilesMixin):
        return []
    if storage.manifest_storage.exists(storage.manifest_name):
        return []
    return [Error(
        f"STATIC_ROOT {settings.STATIC_ROOT} holds no {storage.manifest_name}: every page "
        "would fail (Missing staticfiles manifest entry) while /healthz answers.",
        hint="Run manage.py collectstatic with this STATIC_ROOT. The image collected its "
        "files into /app/staticfiles at its build: leave STATIC_ROOT unset there.",
        id="portal.E002",
    )]
