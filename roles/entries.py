"""The kinds of audit entry that say an administrator created an account, changed its
roles (groups, permissions given to it directly, staff or superuser status, whether it is
active), set or disabled its password, or deleted it, in the admin; or created, renamed or
deleted a group, or changed its permissions (every member's at once, so its entry names
them): who may do what, and who could have logged in as whom, is part of what the audit
trail must show."""

from functools import cache

from django.apps import apps
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from audit.kinds import EntryKind

from .groups import group_name_shown


class Step:
    """What happened to the account or group, as stored in the entry's details."""

    CREATED, CHANGED, DELETED = "created", "changed", "deleted"
    PASSWORD_SET, PASSWORD_DISABLED = "password-set", "password-disabled"


# The account's switches an entry names, in its order.
FLAGS = {"is_active": _("active"), "is_staff": _("staff status"),
         "is_superuser": _("superuser status")}
_STEPS = {Step.CREATED: _("account %(account)s created"),
          Step.CHANGED: _("roles of %(account)s changed"),
          Step.DELETED: _("account %(account)s deleted"),
          Step.PASSWORD_SET: _("password of %(account)s set by an administrator"),
          Step.PASSWORD_DISABLED: _("password login of %(account)s disabled")}


def flag_words(flags: dict) -> list[str]:
    """The switches an entry set, in words ("staff status on")."""
    return [(gettext("%(flag)s on") if flags[name] else gettext("%(flag)s off"))
            % {"flag": label} for name, label in FLAGS.items() if name in flags]


def groups_words(details: dict) -> list[str]:
    """The groups an entry's account gained and lost, in words (here and in sign-ons')."""
    parts = []
    if details.get("gained"):
        parts.append(gettext("gained %(groups)s") % {
            "groups": ", ".join(map(group_name_shown, details["gained"]))})
    if details.get("lost"):
        parts.append(gettext("lost %(groups)s") % {
            "groups": ", ".join(map(group_name_shown, details["lost"]))})
    return parts


# Django's own permissions of each model, as its `default_permissions` name them.
_DEFAULT_PERMISSIONS = {"add": _("Can add %(model)s"), "change": _("Can change %(model)s"),
                        "delete": _("Can delete %(model)s"), "view": _("Can view %(model)s")}


@cache
def _declared_permissions(app_label: str) -> dict:
    """An app's permissions by codename, each with its words as its model declares them."""
    if app_label not in apps.app_configs:
        return {}
    declared = {}
    for model in apps.get_app_config(app_label).get_models():
        meta = model._meta
        for action in set(meta.default_permissions) & set(_DEFAULT_PERMISSIONS):
            declared[f"{action}_{meta.model_name}"] = (_DEFAULT_PERMISSIONS[action], meta)
        declared.update((codename, (words, None)) for codename, words in meta.permissions)
    return declared


def permission_words(name: str) -> str:
    """A permission an entry names ("audit.view_audit_trail") in the reader's words ("Can
    see everyone's actions in the audit trail"): the stored code read as a value. One that
    no model declares any more reads as stored."""
    app_label, _dot, codename = name.partition(".")
    words, meta = _declared_permissions(app_label).get(codename, (None, None))
    if words is None:
        return name
    return str(words) % {"model": meta.verbose_name} if meta else gettext(str(words))


def permission_label(permission) -> str:
    """A permission as the admin's choices show it ("app | model | words"), its words in the
    reader's language: its stored name is English, written when it was first created. One
    that no model declares any more (of a removed model) keeps its stored name."""
    code = f"{permission.content_type.app_label}.{permission.codename}"
    words = permission_words(code)
    return f"{permission.content_type} | {permission.name if words == code else words}"


def permission_labels(permissions) -> str:
    """Permissions as a read-only field lists them, each as the chooser names it: Django's
    own list gives their stored names, English in Polish too."""
    return ", ".join(map(permission_label, permissions.select_related("content_type")))


def permissions_words(details: dict) -> list[str]:
    """The permissions an entry's account or group gained and lost, in words."""
    gained, lost = details.get("permissions_gained"), details.get("permissions_lost")
    parts = []
    if gained:
        parts.append(ngettext("gained permission %(permissions)s",
                              "gained permissions %(permissions)s", len(gained))
                     % {"permissions": "; ".join(map(permission_words, gained))})
    if lost:
        parts.append(ngettext("lost permission %(permissions)s",
                              "lost permissions %(permissions)s", len(lost))
                     % {"permissions": "; ".join(map(permission_words, lost))})
    return parts


def _summary(entry) -> str:
    details = entry.details
    step = _STEPS.get(details.get("step"))
    parts = [str(step % {"account": details.get("account", "")}) if step
             else str(details.get("step"))]
    return "; ".join([*parts, *groups_words(details), *permissions_words(details),
                      *flag_words(details.get("flags") or {})])


# Nothing goes to Thulium: the entry is begun and completed at once.
ACCOUNT = EntryKind(
    slug="account",
    label=_("account changed in the admin"),
    summary=_summary,
    template="audit/kinds/account.html",
    search=("details.account",),
    export_columns=(("step", "details.step"), ("account", "details.account"),
                    ("groups_gained", "details.gained"), ("groups_lost", "details.lost"),
                    ("permissions_gained", "details.permissions_gained"),
                    ("permissions_lost", "details.permissions_lost"), ("flags", "details.flags")),
    calls_thulium=False,
)


_GROUP_STEPS = {Step.CREATED: _("group %(group)s created"),
                Step.CHANGED: _("group %(group)s changed"),
                Step.DELETED: _("group %(group)s deleted")}


def _group_summary(entry) -> str:
    details = entry.details
    step = _GROUP_STEPS.get(details.get("step"))
    parts = [str(step % {"group": group_name_shown(details.get("group", ""))}) if step
             else str(details.get("step"))]
    if details.get("renamed_from"):
        parts.append(gettext("renamed from %(name)s")
                     % {"name": group_name_shown(details["renamed_from"])})
    parts += permissions_words(details)
    # Its members are named on the entry's page; a group has hundreds at times.
    if members := details.get("members"):
        parts.append(ngettext("%(count)s member at the time", "%(count)s members at the time",
                              len(members)) % {"count": len(members)})
    return "; ".join(parts)


# Nothing goes to Thulium: the entry is begun and completed at once.
GROUP = EntryKind(
    slug="group",
    label=_("group changed in the admin"),
    summary=_group_summary,
    template="audit/kinds/group.html",
    search=("details.group", "details.renamed_from"),
    export_columns=(("step", "details.step"), ("group", "details.group"),
                    ("renamed_from", "details.renamed_from"),
                    ("permissions_gained", "details.permissions_gained"),
                    ("permissions_lost", "details.permissions_lost"),
                    ("members", "details.members")),
    calls_thulium=False,
)
