"""What the campaigns app adds to its audit entries' pages."""

from django import template

from campaigns.entries import Step

register = template.Library()


@register.filter
def step_label(entry) -> str:
    """A four-eyes step entry's step in words."""
    step = entry.details.get("step", "")
    return Step.LABELS.get(step, step)
