"""Template filters for showing what was sent to Thulium."""

import json

from django import template

register = template.Library()


@register.filter
def pretty_json(value) -> str:
    """JSON as Thulium received it (not Python's repr), indented for reading."""
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
