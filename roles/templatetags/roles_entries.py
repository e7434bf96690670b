"""`{{ entry.details.flags|flags_in_words }}`: an account entry's switches in words;
`{% for name, words in entry.details.permissions_gained|permissions_in_words %}`: the
permissions it names, each beside its words."""

from django import template

from roles.entries import flag_words, permission_words

register = template.Library()


@register.filter
def flags_in_words(flags) -> str:
    return ", ".join(flag_words(flags or {}))


@register.filter
def permissions_in_words(names) -> list[tuple[str, str]]:
    return [(name, permission_words(name)) for name in names or ()]
