"""`check --deploy` warnings for state kept inside one process, which several would not share."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

PROCESS_LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


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
