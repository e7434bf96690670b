"""An edit form whose campaign changed after it was opened: what changed, who changed it
and when, and the user's own changes again, on top of the current settings."""

from dataclasses import dataclass

from django.db.models import Q

from audit.models import Entry, Outcome

from .entries import CAMPAIGN_CHANGE
from .forms import EDITABLE, CampaignForm, initial_from_settings, shown_value
from .models import Campaign
from .services import merged_settings

# Kept in the form again besides the settings the user changed; without its time, a
# change sent again after the conflict went at once instead of at the time chosen.
_CARRIED = ("reason", "reverts", "apply_at")


@dataclass(frozen=True)
class FieldConflict:
    label: str
    then: object  # when the user opened the form
    now: object
    yours: object
    changed_since: bool  # someone else changed it meanwhile

    @property
    def clashes(self) -> bool:
        """The user changed a field that also changed meanwhile."""
        return self.changed_since and self.yours != self.then


@dataclass(frozen=True)
class Conflict:
    fields: list[FieldConflict]
    entries: list[Entry]  # the changes made since, oldest first
    form: CampaignForm  # the user's changes on top of the current settings


def conflict_for(form: CampaignForm, campaign: Campaign) -> Conflict:
    """The conflict of a valid `form` based on an older version of `campaign`'s settings.

    A damaged or missing base counts as based on the current settings: the user's input
    is then kept as it is, and nothing is said to have changed.
    """
    base = form.cleaned_data.get("base") or {}
    then_settings = base.get("settings", campaign.settings)
    # The user's own changes: their input against what they were shown.
    mine = CampaignForm(form.data, known_settings=then_settings)
    mine.is_valid()
    yours = mine.to_payload()
    then, now = initial_from_settings(then_settings), initial_from_settings(campaign.settings)
    ours = initial_from_settings(merged_settings(then_settings, yours))
    fields = [
        FieldConflict(
            label=CampaignForm.base_fields[name].label,
            then=shown_value(name, then.get(name)), now=shown_value(name, now.get(name)),
            yours=shown_value(name, ours.get(name)),
            changed_since=then.get(name) != now.get(name),
        )
        for name in EDITABLE
        if then.get(name) != now.get(name) or then.get(name) != ours.get(name)
    ]
    # A refused or failed change gave its version back: only those that took it count.
    # The change that claimed the form's own version counts too: its completion raises
    # the version again, so the form was opened while it was sent, and did not show it.
    based_on = base.get("version", -1)
    since = Q(details__version__gt=based_on) | Q(kind=CAMPAIGN_CHANGE.slug,
                                                  details__version=based_on)
    entries = list(
        Entry.objects.filter(since, campaign=campaign,
                             outcome__in=(Outcome.SUCCEEDED, Outcome.UNKNOWN))
        .order_by("created_at", "pk")
    ) if base else []
    again = CampaignForm(
        known_settings=campaign.settings, version=campaign.version, proposed=yours,
        initial={name: form.cleaned_data.get(name) for name in _CARRIED},
    )
    return Conflict(fields, entries, again)
