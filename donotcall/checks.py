"""A start-up check that the do-not-call list can still be read: its numbers are looked up
by their digest under the key they were written with (audit.personal), and one written
under a key the portal no longer has blocks nothing, silently."""

from django.core.checks import Error, Tags, register
from django.db import DatabaseError
from django.db.models.functions import Substr

from audit.personal import KEY_ID_LENGTH, known_key_ids

from .models import Suppression


@register(Tags.database)
def check_list_keys(app_configs, databases=None, **kwargs):
    """Run by `migrate` (and `check --database default`): the portal does not start while
    numbers on the list would be loaded into campaigns again."""
    if not databases:
        return []
    # No ordering: the list's own made the DISTINCT one of every entry's key, date and id,
    # sorted on disk (23 s at a million entries, at every migrate).
    try:
        written = set(Suppression.objects.annotate(key_id=Substr("digest", 1, KEY_ID_LENGTH))
                      .values_list("key_id", flat=True).order_by().distinct())
    except DatabaseError:  # before the list's table exists
        return []
    if not (lost := written - known_key_ids()):
        return []
    return [Error(
        f"Do-not-call entries were written under a personal-data key the portal does not "
        f"have (key id {', '.join(sorted(lost))}): those numbers block nothing.",
        hint="Put the key they were written with in AUDIT_PII_RETIRED_KEYS (after a "
        "rotation, the previous AUDIT_PII_KEY).",
        id="donotcall.E001",
    )]
