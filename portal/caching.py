"""The cache (Redis in production) as something to do without: it holds nothing the portal
needs, so a cache that does not answer makes a page slower (Thulium or the identity
provider asked each time), never an error page."""

import logging

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
