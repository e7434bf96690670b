"""The campaign settings in the user's words: the form's labels and choices, as the audit
trail and the confirmation pages name the settings a change sends and their values."""

from django.utils.translation import gettext_lazy as _

from audit.diff import FieldChange, field_changes

from .models import Dialer

TOP_LEVEL = ["name", "dialer", "active", "start_date", "end_date", "order", "parity", "group_id"]
PARAMETERS = ["caller_id", "preview_timeout", "predictive_max_calls", "predictive_min_calls"]
LABELS = {
    "name": _("Name"),
    "dialer": _("Dialer"),
    "active": _("Active"),
    "start_date": _("Start date"),
    "end_date": _("End date"),
    "order": _("Order"),
    "parity": _("Parity"),
    "group_id": _("Group id"),
    "caller_id": _("Caller ID"),
    "preview_timeout": _("Preview timeout (seconds)"),
    "predictive_max_calls": _("Predictive: maximum calls per agent"),
    "predictive_min_calls": _("Predictive: minimum calls per agent"),
}


def setting_label(path: str) -> str | None:
    """A setting by its path in Thulium's JSON ("parameters.caller_id"), in the user's
    words; None for one the form does not edit."""
    parameter = path.removeprefix("parameters.")
    names = PARAMETERS if parameter != path else TOP_LEVEL
    return LABELS[parameter] if parameter in names else None


def setting_value_label(path: str, value) -> str | None:
    """A setting's value as the form offers it ("predictive" is "predykcyjny" in Polish, true
    is "yes"); None for a value that is its own word (a number, a date, a name)."""
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if path == "dialer" and value in Dialer.values:
        return str(Dialer(value).label)
    return None


def settings_named(paths: list[str]) -> str:
    """Settings by their paths, in the user's words where the form has some."""
    return ", ".join(str(setting_label(path) or path) for path in paths)


def settings_changes(before: dict, after: dict) -> list[FieldChange]:
    """What `after` changes of the settings `before`, field by field, in the user's words."""
    return field_changes(before, after, setting_label, setting_value_label)
