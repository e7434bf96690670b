"""The cache (Redis in production) as something to do without: it holds nothing the portal
needs, so a cache that does not answer makes a page slower (Thulium or the identity
provider asked each time), never an error page; unless sessions are kept there."""

import logging

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)


def cache_answer(method, *args, **kwargs):
    """What `method` of the cache (cache.get, cache.set...) answers, or None when the cache
    gives no answer: each backend raises its own errors (redis' ConnectionError,
    TimeoutError...), so any is taken as none."""
    try:
        return method(*args, **kwargs)
    except Exception as error:
        log.warning("the cache does not answer: %s", type(error).__name__)
        return None


# Session engines that keep logins in the cache: a cache down then refuses every new login
# (cached_db too: it asks the cache whether a new session's key is taken), and the cache's
# own engine loses those open.
SESSION_ENGINES_IN_CACHE = ("django.contrib.sessions.backends.cache",
                            "django.contrib.sessions.backends.cached_db")


def sessions_in_cache() -> bool:
    """Whether the portal needs the cache, as it does when logins are kept there."""
    return settings.SESSION_ENGINE in SESSION_ENGINES_IN_CACHE


def cache_up() -> bool:
    """Whether the cache answers: a read, and a write when the key read is missing."""
    return cache_answer(cache.get_or_set, "caching:up", "yes", 60) == "yes"
