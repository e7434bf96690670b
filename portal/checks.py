"""`check --deploy` warnings for state kept inside one process, which several would not share,
for a proxy whose clients would all look alike, and for e-mail notices that would go nowhere."""

from urllib.parse import urlsplit

from django.conf import settings
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
