"""Which campaign changes are risky: they can break the law or burn a list in minutes.

A risky change needs a typed reason, and with FOUR_EYES on a second editor's approval.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Risk(models.TextChoices):
    PREDICTIVE = "predictive", _("switches the dialer to predictive")
    MORE_CALLS = "more_calls", _("raises the predictive maximum of calls per agent")
    CALLER_ID = "caller_id", _("changes the caller ID")
    ACTIVATION = "activation", _("activates the campaign")
    DATES = "dates", _("moves the campaign's dates")


def risky_changes(changes: dict, known: dict) -> list[str]:
    """The risks (`Risk` values) of sending `changes` to a campaign whose settings are `known`.

    `changes` is a PUT outbounds/:id body. A setting the portal never knew counts as
    changed: a change whose effect cannot be told is treated as the risky one.
    """
    parameters = changes.get("parameters") or {}
    known_parameters = known.get("parameters") or {}
    risks = []
    if changes.get("dialer") == "predictive" and known.get("dialer") != "predictive":
        risks.append(Risk.PREDICTIVE)
    if "predictive_max_calls" in parameters and not _at_most(
        parameters["predictive_max_calls"], known_parameters.get("predictive_max_calls")
    ):
        risks.append(Risk.MORE_CALLS)
    if "caller_id" in parameters and str(parameters["caller_id"]) != str(
        known_parameters.get("caller_id")
    ):
        risks.append(Risk.CALLER_ID)
    if changes.get("active") is True and known.get("active") is not True:
        risks.append(Risk.ACTIVATION)
    if any(changes[name] != known.get(name) for name in ("start_date", "end_date")
           if name in changes):
        risks.append(Risk.DATES)
    return [risk.value for risk in risks]


def risk_labels(risks: list[str]) -> list[str]:
    """The risks in the user's words, for messages and the audit."""
    return [str(Risk(risk).label) for risk in risks if risk in Risk.values]


def _at_most(new, old) -> bool:
    try:
        return float(new) <= float(old)
    except (TypeError, ValueError):
        return False
