"""Recording what an administrator did to an account or a group in the admin
(roles.entries), and reading back whose accounts one managed there."""

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType

from audit.models import Outcome
from audit.recording import entry_begin, entry_complete

from .entries import ACCOUNT, FLAGS, GROUP, Step


def account_roles(account) -> dict:
    """What an account may do, as `account_roles_record` compares it: its groups' names,
    the permissions given to it directly (one can make an auditor) and its switches."""
    return {"groups": set(account.groups.values_list("name", flat=True)),
            "permissions": permission_names(account.user_permissions),
            **{name: getattr(account, name) for name in FLAGS}}


def permission_names(permissions) -> set[str]:
    """The permissions as `has_perm` names them ("audit.view_audit_trail")."""
    return {f"{app_label}.{codename}" for app_label, codename in
            permissions.values_list("content_type__app_label", "codename")}


def account_roles_record(*, account_name: str, actor, before: dict | None,
                         after: dict | None) -> None:
    """An entry for the account's creation (`before` None), deletion (`after` None) or
    change of roles; none when nothing the roles hold changed. In the caller's transaction,
    so that the entry commits with the change or not at all."""
    old = before or {"groups": set(), "permissions": set()}
    new = after or {"groups": set(), "permissions": set()}
    gained, lost = _gained_lost(old["groups"], new["groups"])
    permissions_gained, permissions_lost = _gained_lost(old["permissions"], new["permissions"])
    if after is None:
        step, flags = Step.DELETED, {}
    elif before is None:  # a new account: the switches it has on
        step, flags = Step.CREATED, {name: True for name in FLAGS if after[name]}
    else:
        step = Step.CHANGED
        flags = {name: after[name] for name in FLAGS if after[name] != before[name]}
    changes = (("gained", gained), ("lost", lost), ("permissions_gained", permissions_gained),
               ("permissions_lost", permissions_lost), ("flags", flags))
    if step == Step.CHANGED and not any(value for _key, value in changes):
        return
    details = {"account": account_name, "step": step}
    details.update({key: value for key, value in changes if value})
    _record(ACCOUNT, actor, details)


def account_password_record(*, account, actor) -> None:
    """An entry for the password an administrator set for the account, or disabled (only
    sign-on then logs it in); in the caller's transaction."""
    step = Step.PASSWORD_SET if account.has_usable_password() else Step.PASSWORD_DISABLED
    _record(ACCOUNT, actor, {"account": account.get_username(), "step": step})


def group_roles(group) -> dict:
    """What a group gives each of its members, as `group_roles_record` compares it: its name
    and permissions."""
    return {"name": group.name, "permissions": permission_names(group.permissions)}


def group_members(group) -> list[str]:
    """The usernames of the group's members, in order: whom a change of the group reaches."""
    accounts = get_user_model()
    return list(accounts.objects.filter(groups=group).order_by(accounts.USERNAME_FIELD)
                .values_list(accounts.USERNAME_FIELD, flat=True))


def group_roles_record(*, actor, before: dict | None, after: dict | None,
                       members: list[str]) -> None:
    """An entry for the group's creation (`before` None), deletion (`after` None), renaming
    or change of permissions, naming its `members` then; none when neither changed. In the
    caller's transaction, so that the entry commits with the change or not at all."""
    gained, lost = _gained_lost((before or {"permissions": set()})["permissions"],
                                (after or {"permissions": set()})["permissions"])
    step = Step.DELETED if after is None else Step.CREATED if before is None else Step.CHANGED
    renamed_from = before["name"] if step == Step.CHANGED and (
        before["name"] != after["name"]) else ""
    if step == Step.CHANGED and not (gained or lost or renamed_from):
        return
    details = {"group": (after or before)["name"], "step": step}
    details.update({key: value for key, value in (
        ("renamed_from", renamed_from), ("permissions_gained", gained),
        ("permissions_lost", lost)) if value})
    details["members"] = members
    _record(GROUP, actor, details)


def accounts_linked_to(account) -> set[int]:
    """The ids of the users who created or changed `account` in the admin (its password,
    roles, second factor, any detail), and of the accounts it created or changed there.

    Read from the admin's own log, which names accounts by id (a rename does not hide
    them) and is written in the change's transaction; the second factor's reset writes
    there too (twofactor.admin). A save that changed nothing is left out.
    """
    accounts = ContentType.objects.get_for_model(get_user_model())
    done = (LogEntry.objects.filter(content_type=accounts, action_flag__in=(ADDITION, CHANGE))
            .exclude(change_message="[]"))
    managers = done.filter(object_id=str(account.pk)).values_list("user_id", flat=True)
    managed = done.filter(user_id=account.pk).values_list("object_id", flat=True)
    return (set(managers) | {int(pk) for pk in managed}) - {account.pk}


def _gained_lost(old: set[str], new: set[str]) -> tuple[list[str], list[str]]:
    return sorted(new - old), sorted(old - new)


def _record(kind, actor, details: dict) -> None:
    entry_complete(entry_begin(kind=kind.slug, actor=actor, details=details),
                   outcome=Outcome.SUCCEEDED)
