"""Restore previous values: the settings a change replaced, for the fields it changed only."""

from django.utils.translation import gettext_lazy as _

from audit.models import Entry, Outcome

from .entries import CAMPAIGN_CHANGE, FOUND_APPLIED, OUTSIDE_CHANGE

# Where each kind of settings change keeps the values it set.
_CHANGED_AT = {CAMPAIGN_CHANGE.slug: "sent", OUTSIDE_CHANGE.slug: "found",
               FOUND_APPLIED.slug: "found"}


class NotRevertible(Exception):
    """The entry's change cannot be restored; the message says why, in the user's words."""


def revertible(entry: Entry) -> bool:
    return entry.kind in _CHANGED_AT and entry.outcome == Outcome.SUCCEEDED


def values_before(entry: Entry) -> dict:
    """The values the entry's change replaced, as a PUT body; raises NotRevertible.

    A value the portal did not know before the change cannot be restored (Thulium has
    no way to unset one), so it is left out.
    """
    if not revertible(entry):
        raise NotRevertible(_("Only a settings change that succeeded can be restored."))
    if entry.campaign is None:
        raise NotRevertible(_("The campaign of this change is no longer in the portal, so "
                              "its values cannot be restored from here."))
    changed = entry.sent if _CHANGED_AT[entry.kind] == "sent" else entry.details.get("found")
    restored = _known_part(entry.details.get("settings_before") or {}, changed or {})
    if not restored:
        raise NotRevertible(_("The portal did not know the values before this change, so it "
                              "cannot restore them."))
    return restored


def _known_part(before: dict, changed: dict) -> dict:
    part = {}
    for key, value in changed.items():
        if key not in before:
            continue
        if isinstance(value, dict) and isinstance(before[key], dict):
            nested = _known_part(before[key], value)
            if nested:
                part[key] = nested
        else:
            part[key] = before[key]
    return part
