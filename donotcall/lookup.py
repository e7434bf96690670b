"""The one check every send goes through: which of these numbers may not be called?

Single additions ask about one number, an import's preview and its claims about
thousands, an upload about hundreds of thousands: however many, the numbers' digests are
one parameter of one query, which the database plans as an index lookup for a few and as
one pass of the list beside many.
"""

import json
from collections.abc import Iterator
from datetime import date

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit.personal import digesters_under_every_key
from portal.db_many import bound_cursor

from .models import Suppression

# What a blocked number's send is told, next to the number.
ON_THE_LIST = _("This number is on the do-not-call list: it may not be loaded into this "
                "campaign.")


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
    or two. The digests are one parameter, in SQL written once: in chunks of 500, a
    parameter each, Django's quoting took 4.8 s of an upload of 200,000 numbers on
    PostgreSQL, and SQLite refuses a query of more than 32,766 parameters. PostgreSQL
    takes them as one text, sent apart from the statement (portal.db_many), split and
    joined as a table whose length it plans with: an index lookup each for a preview's
    batch of 2,000, one pass of the list beside 200,000; SQLite as a JSON list.
    """
    by_digest = _by_digest(keys)
    if not by_digest:
        return
    if connection.vendor == "postgresql":
        cursor, given = bound_cursor(), ",".join(by_digest)
    else:
        cursor, given = connection.cursor(), json.dumps(list(by_digest))
    with cursor:
        cursor.execute(_ENTRIES[connection.vendor], [given])
        found = cursor.fetchall()
    for pk, digest, scope, expires_on in found:
        yield pk, by_digest[digest], scope, expires_on


def _by_digest(keys) -> dict[str, str]:
    """Each key's digest under every key the list was written with (current and retired),
    mapped back to the key."""
    return {make(key): key for make in digesters_under_every_key() for key in set(keys)}


# A digest holds no comma (a key id, a dot, hex). An array parameter took psycopg longer
# to write, in Python, than PostgreSQL to run the query; `digest = ANY(...)` of the same
# array read the whole list for a batch of 2,000, where the join walks the index.
_COLUMNS = f"SELECT id, digest, campaign_id, expires_on FROM {Suppression._meta.db_table}"
_ENTRIES = {"postgresql": f"{_COLUMNS} JOIN unnest(string_to_array(%s, ',')) AS given "
                          "(given_digest) ON digest = given_digest",
            "sqlite": f"{_COLUMNS} WHERE digest IN (SELECT value FROM json_each(%s))"}
