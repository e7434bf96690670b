"""The kind of audit entry that says a user's second factor was set up, renewed, removed,
or that wrong codes locked their login."""

from django.utils.translation import gettext_lazy as _

from audit.kinds import EntryKind


class Step:
    """What happened, as stored in the entry's details."""

    ENROLLED, CODES_RENEWED, REMOVED, LOCKED_OUT = (
        "enrolled", "codes-renewed", "removed", "locked-out")


_SUMMARIES = {
    Step.ENROLLED: _("two-factor login set up for %(account)s"),
    Step.CODES_RENEWED: _("new recovery codes for %(account)s"),
    Step.REMOVED: _("two-factor login turned off for %(account)s"),
    Step.LOCKED_OUT: _("login of %(account)s locked after wrong codes"),
}


def _summary(entry) -> str:
    step = entry.details.get("step")
    text = _SUMMARIES.get(step)
    return str(text % {"account": entry.details.get("account", "")}) if text else str(step)


# Nothing goes to Thulium: the entry is begun and completed at once.
SECOND_FACTOR = EntryKind(
    slug="second-factor",
    label=_("two-factor login"),
    summary=_summary,
    template="audit/kinds/second-factor.html",
    search=("details.account",),
    export_columns=(("step", "details.step"), ("account", "details.account")),
    calls_thulium=False,
)
