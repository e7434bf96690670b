"""Recording what an administrator did to an account in the admin (roles.entries)."""

from audit.models import Outcome
from audit.recording import entry_begin, entry_complete

from .entries import ACCOUNT, FLAGS, Step


def account_roles(account) -> dict:
    """What an account may do, as `account_roles_record` compares it: its groups' names
    and its switches."""
    return {"groups": set(account.groups.values_list("name", flat=True)),
            **{name: getattr(account, name) for name in FLAGS}}


def account_roles_record(*, account_name: str, actor, before: dict | None,
                         after: dict | None) -> None:
    """An entry for the account's creation (`before` None), deletion (`after` None) or
    change of roles; none when nothing the roles hold changed. In the caller's transaction,
    so that the entry commits with the change or not at all."""
    old = before or {"groups": set()}
    new = after or {"groups": set()}
    gained, lost = sorted(new["groups"] - old["groups"]), sorted(old["groups"] - new["groups"])
    if after is None:
        step, flags = Step.DELETED, {}
    elif before is None:  # a new account: the switches it has on
        step, flags = Step.CREATED, {name: True for name in FLAGS if after[name]}
    else:
        step = Step.CHANGED
        flags = {name: after[name] for name in FLAGS if after[name] != before[name]}
    if step == Step.CHANGED and not (gained or lost or flags):
        return
    details = {"account": account_name, "step": step}
    details.update({key: value for key, value in
                    (("gained", gained), ("lost", lost), ("flags", flags)) if value})
    _record(actor, details)


def account_password_record(*, account, actor) -> None:
    """An entry for the password an administrator set for the account, or disabled (only
    sign-on then logs it in); in the caller's transaction."""
    step = Step.PASSWORD_SET if account.has_usable_password() else Step.PASSWORD_DISABLED
    _record(actor, {"account": account.get_username(), "step": step})


def _record(actor, details: dict) -> None:
    entry_complete(entry_begin(kind=ACCOUNT.slug, actor=actor, details=details),
                   outcome=Outcome.SUCCEEDED)
