"""The field a refused form focuses, for a template that must focus something else when
there is none (the alert of errors of the whole form)."""

from django import template

from portal.focus import field_to_focus

register = template.Library()
register.filter("field_to_focus", field_to_focus)
