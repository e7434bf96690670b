"""A start-up check that every entry can still be searched, erased and verified: a number
is found in entries by its digests under the keys the portal is given (audit.personal), and
an erasure leaves it in an entry made under a key left out, and reports it held nowhere."""

from django.core.checks import Error, Tags, register
from django.db import DatabaseError

from .erasure import entry_keys_missing


@register(Tags.database)
def check_entry_keys(app_configs, databases=None, **kwargs):
    """Run by `migrate` (and `check --database default`), beside donotcall.E001: the portal
    does not start while an erasure would leave numbers in the audit trail."""
    if not databases:
        return []
    try:
        missing = entry_keys_missing()
    except DatabaseError:  # before the log's table exists
        return []
    if not missing:
        return []
    return [Error(
        f"Audit entries were made under a personal-data key the portal does not have (key "
        f"id {', '.join(missing)}): their numbers are not found by a search, an erasure "
        "leaves them, and verify_audit cannot check them.",
        hint="Put the key they were made with in AUDIT_PII_RETIRED_KEYS (after a rotation, "
        "the previous AUDIT_PII_KEY).",
        id="audit.E001",
    )]
