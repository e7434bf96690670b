"""`{{ entry.details.flags|flags_in_words }}`: an account entry's switches in words."""

from django import template

from roles.entries import flag_words

register = template.Library()


@register.filter
def flags_in_words(flags) -> str:
    return ", ".join(flag_words(flags or {}))
