"""The campaign app's kinds of audit entries: settings changes, changes found made outside
the portal, four-eyes steps, the steps of scheduled changes, and a campaign found gone from
Thulium's list or back in it."""

from django.utils.translation import gettext, gettext_noop, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from audit.diff import flat_paths
from audit.kinds import EntryKind
from portal.shown_times import shown_json_time, shown_minute

from .labels import setting_label, setting_value_label, settings_named


class Step:
    """A four-eyes step, as stored in a "change-request" entry's details."""

    REQUESTED, APPROVED, REJECTED, OUTDATED = "requested", "approved", "rejected", "stale"
    LABELS = {REQUESTED: _("requested"), APPROVED: _("approved"), REJECTED: _("rejected"),
              OUTDATED: _("outdated")}
    # Why an approval found the request outdated.
    CAMPAIGN_CHANGED, TIME_PASSED = "campaign_changed", "time_passed"
    REQUESTER_GONE = "requester_gone"
    # Approved, but its process stopped before it began the call (campaigns.unanswered).
    NOT_SENT = "not_sent"
    WHY = {CAMPAIGN_CHANGED: _("the campaign changed after the request was made"),
           TIME_PASSED: _("the time it was to be applied at had passed"),
           REQUESTER_GONE: _("the one who asked for it was deactivated or may no longer "
                             "change campaigns"),
           NOT_SENT: _("the portal stopped after the approval, before it sent the change")}


# The detail of a call whose web process stopped before Thulium answered, completed unknown
# by the worker's sweep (campaigns.unanswered) with Thulium found holding its values: here,
# as the requester's mail tells such a call applied (campaigns.notices).
FOUND_HELD = gettext_noop("The portal stopped before Thulium answered; Thulium was then found "
                          "holding the changed values.")


class ScheduleStep:
    """A scheduled change's step, as stored in a "scheduled-change" entry's details."""

    SCHEDULED, CANCELLED, MISSED = "scheduled", "cancelled", "missed"
    LABELS = {SCHEDULED: _("scheduled"), CANCELLED: pgettext_lazy("scheduled change", "cancelled"),
              MISSED: _("missed (not sent)")}


def _change_summary(entry) -> str:
    return gettext("settings changed: %(fields)s") % {
        "fields": settings_named(flat_paths(entry.sent))}


def _outside_summary(entry) -> str:
    return gettext("changed outside the portal: %(fields)s") % {
        "fields": settings_named(flat_paths(entry.details.get("found")))}


def _found_applied_summary(entry) -> str:
    return gettext("unanswered change #%(id)s found applied: %(fields)s") % {
        "id": entry.related_id, "fields": settings_named(flat_paths(entry.details.get("found")))}


def _request_step(entry) -> str:
    """A four-eyes step entry's step in words, for its summary."""
    step = entry.details.get("step")
    return str(Step.LABELS.get(step, step))


def _schedule_step(entry) -> str:
    """A scheduled change's step entry's step in words, for its summary."""
    step = entry.details.get("step")
    return str(ScheduleStep.LABELS.get(step, step))


def _step_summary(entry) -> str:
    return gettext("change request #%(id)s %(step)s: %(fields)s") % {
        "id": entry.details.get("request"), "step": _request_step(entry),
        "fields": settings_named(flat_paths(entry.sent))}


def _schedule_summary(entry) -> str:
    return gettext("change for %(when)s %(step)s: %(fields)s") % {
        "when": shown_json_time(entry.details.get("apply_at"), shown_minute),
        "step": _schedule_step(entry), "fields": settings_named(flat_paths(entry.sent))}


def _presence_summary(entry) -> str:
    return gettext("in Thulium again") if entry.details.get("in_thulium") else gettext(
        "no longer in Thulium")


# What every campaign kind shows the same way: a campaign's settings, before and after.
_SETTINGS_SHOWN = dict(before="details.settings_before", field_label=setting_label,
                       value_label=setting_value_label, of_campaign=True)
# The kinds found on reading the campaign from Thulium: nothing is sent; `details.found`
# holds the values that differed from the known ones.
_FOUND_ON_READING = _("found it on reading Thulium")
_FOUND_IN_THULIUM = dict(
    _SETTINGS_SHOWN, after="details.found", calls_thulium=False, actor_role=_FOUND_ON_READING,
    export_columns=(("settings_before", "details.settings_before"), ("found", "details.found")))

CAMPAIGN_CHANGE = EntryKind(
    slug="campaign-change",
    label=_("settings changed"),
    summary=_change_summary,
    template="audit/kinds/campaign-change.html",
    **_SETTINGS_SHOWN,
    export_columns=(("settings_before", "details.settings_before"),),
)
# Values found on reading the campaign from Thulium that the portal did not set.
OUTSIDE_CHANGE = EntryKind(
    slug="outside-change",
    label=_("changed outside the portal"),
    summary=_outside_summary,
    template="audit/kinds/outside-change.html",
    **_FOUND_IN_THULIUM,
)
# Found on reading the campaign from Thulium, as OUTSIDE_CHANGE is, but the values found are
# those a change of the portal's had sent whose answer was lost (its outcome unknown, for
# good): `related` is that change, `details.found` what it was found to have set.
FOUND_APPLIED = EntryKind(
    slug="change-found-applied",
    label=_("unanswered change found applied"),
    summary=_found_applied_summary,
    template="audit/kinds/change-found-applied.html",
    **_FOUND_IN_THULIUM,
)
# Nothing is sent to Thulium by the step itself: `sent` holds the requested changes, and
# the entry is completed at once. An approved change's own call is a CAMPAIGN_CHANGE.
CHANGE_REQUEST = EntryKind(
    slug="change-request",
    label=_("four-eyes step"),
    summary=_step_summary,
    template="audit/kinds/change-request.html",
    **_SETTINGS_SHOWN,
    calls_thulium=False,
    steps=tuple(Step.LABELS.items()),
    export_columns=(("step", "details.step"), ("change_request_id", "details.request"),
                    ("note", "details.note")),
)
# As a four-eyes step, the step itself sends nothing: `sent` holds the changes to send at
# `details.apply_at`; the call at that time is a CAMPAIGN_CHANGE related to the scheduled step.
SCHEDULED_CHANGE = EntryKind(
    slug="scheduled-change",
    label=_("scheduled change"),
    summary=_schedule_summary,
    template="audit/kinds/scheduled-change.html",
    **_SETTINGS_SHOWN,
    calls_thulium=False,
    steps=tuple(ScheduleStep.LABELS.items()),
    export_columns=(("step", "details.step"), ("scheduled_change_id", "details.scheduled"),
                    ("apply_at", "details.apply_at"), ("note", "details.note")),
)
# Found on reading Thulium's whole list of campaigns (campaigns.presence): the campaign left
# out of it, or listed again after that. Nothing is sent; `details.in_thulium` is the flag set.
THULIUM_PRESENCE = EntryKind(
    slug="thulium-presence",
    label=_("presence in Thulium"),
    summary=_presence_summary,
    template="audit/kinds/thulium-presence.html",
    calls_thulium=False,
    actor_role=_FOUND_ON_READING,
    of_campaign=True,
    export_columns=(("in_thulium", "details.in_thulium"),),
)
