"""Filters for audit entries' pages: `{% if user|may_see_entry:entry %}` links an entry only
for those its page lets in; `{{ name|erased_place }}` names a place an erasure counts;
`{{ entry|sent_words:"reason" }}` says a value sent in the user's words."""

from django import template

from audit import erasure, services
from audit.kinds import kind_of

register = template.Library()


@register.filter
def may_see_entry(user, entry) -> bool:
    return services.may_see_entry(user, entry)


@register.filter
def erased_place(name: str) -> str:
    return erasure.place_label(name)


@register.filter
def sent_words(entry, name: str):
    """A value the entry sent, in the user's words where its kind has them."""
    value = entry.sent.get(name)
    return kind_of(entry).value_label(name, value) or value
