"""Who may do what with an import: loaders work on their own, auditors read everyone's.

An import's pages show its rows and its receipt, which is an entry of the audit trail, so
they are readable by those who may read that entry: its creator, and whoever may see
everyone's audit trail (the Auditors group, superusers). Acting on an import (mapping,
confirming, cancelling) takes the right to add records and being its creator; superusers
may act on any, to stop an import whose creator is away. An import is sent under its
creator's name, so only while they may still add records (imports.loaders).
"""

from django.contrib.auth import get_user_model

from audit.services import may_see_everyone

ADD_RECORDS = "records.add_addedrecord"


def may_read_import(user, job) -> bool:
    return user.is_authenticated and (job.actor_id == user.pk or may_see_everyone(user))


def may_change_import(user, job) -> bool:
    return user.is_authenticated and user.has_perm(ADD_RECORDS) and (
        job.actor_id == user.pk or user.is_superuser
    )


def readable_imports(user, imports):
    """The imports of a queryset this user may read."""
    return imports if may_see_everyone(user) else imports.filter(actor=user)


def record_loaders():
    """The users who may add records now (active, with the right), as a query."""
    return get_user_model().objects.with_perm(ADD_RECORDS, backend="roles.backends.RoleBackend")
