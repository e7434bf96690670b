"""`{{ entry.details.flags|flags_in_words }}`: an account entry's switches in words;
`{% for name, words in entry.details.permissions_gained|permissions_in_words %}`: the
permissions it names, each beside its words; `{{ entry.details.gained|groups_in_words }}`
and `{{ entry.details.group|group_in_words }}`: the groups it names, in the reader's
language."""

from django import template

from roles.entries import flag_words, permission_words
from roles.groups import group_name_shown

register = template.Library()


@register.filter
def flags_in_words(flags) -> str:
    return ", ".join(flag_words(flags or {}))


@register.filter
def permissions_in_words(names) -> list[tuple[str, str]]:
    return [(name, permission_words(name)) for name in names or ()]


@register.filter
def groups_in_words(names) -> str:
    return ", ".join(map(group_name_shown, names or ()))


@register.filter
def group_in_words(name) -> str:
    return group_name_shown(name or "")
