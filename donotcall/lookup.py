"""The one check every send goes through: which of these numbers may not be called?

Single additions ask about one number, an import's preview and its claims about
thousands: numbers are looked up by digest in chunks, each chunk one indexed query, unless
the list is short beside them (then it is read whole).
"""

from collections.abc import Iterator
from datetime import date

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit.personal import digesters_under_every_key

from .models import Suppression

# What a blocked number's send is told, next to the number.
ON_THE_LIST = _("This number is on the do-not-call list: it may not be loaded into this "
                "campaign.")
# Numbers per query. Few enough that PostgreSQL walks the index for each (with 2,000 it
# read the whole list of a million instead); bench/bench_donotcall.py has the figures.
CHUNK = 500
# A list with at most one entry for this many numbers asked about is read whole, in one
# query, and matched here: an import's 100,000 numbers are then not 200 queries of 500
# (whose parameters alone cost Django a second), and a long list costs one short read more.
NUMBERS_PER_ENTRY_READ_WHOLE = 10


def blocked(campaign, keys) -> set[str]:
    """The canonical keys (portal.phones.phone_key) among `keys` that may not be loaded
    into `campaign` today."""
    today = timezone.localdate()
    return {key for _pk, key, scope, expires_on in _entries(keys)
            if scope in (None, campaign.pk) and (expires_on is None or expires_on >= today)}


def listed(keys, campaign) -> dict[int, str]:
    """The entries the list holds of these keys for exactly this scope (None: every
    campaign), expired or not, by id: each one's key. Adding a number again replaces its
    expired entry, and would repeat a current one."""
    scope = campaign.pk if campaign is not None else None
    return {pk: key for pk, key, entry_scope, _expires_on in _entries(keys)
            if entry_scope == scope}


def _entries(keys) -> Iterator[tuple[int, str, int | None, date | None]]:
    """(id, key, campaign id or None, last day or None) of each entry of these numbers.

    Looked up by digest alone, and the scope and expiry read here: a number has an entry
    or two, and the query is then a plain index lookup, where the same conditions in SQL
    cost Django more to build, on every single addition, than the database to run.
    """
    by_digest = _by_digest(keys)
    if len(by_digest) > CHUNK:
        most = len(by_digest) // NUMBERS_PER_ENTRY_READ_WHOLE
        whole = list(Suppression.objects.order_by()
                     .values_list("pk", "digest", "campaign_id", "expires_on")[:most + 1])
        if len(whole) <= most:
            for pk, digest, scope, expires_on in whole:
                if digest in by_digest:
                    yield pk, by_digest[digest], scope, expires_on
            return
    digests = list(by_digest)
    for start in range(0, len(digests), CHUNK):
        # No ordering: the list's default one would sort every chunk for nothing.
        for pk, digest, scope, expires_on in (
                Suppression.objects.filter(digest__in=digests[start:start + CHUNK]).order_by()
                .values_list("pk", "digest", "campaign_id", "expires_on")):
            yield pk, by_digest[digest], scope, expires_on


def _by_digest(keys) -> dict[str, str]:
    """Each key's digest under every key the list was written with (current and retired),
    mapped back to the key."""
    return {make(key): key for make in digesters_under_every_key() for key in set(keys)}
