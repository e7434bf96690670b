"""Filters for audit entries' pages: `{% if user|may_see_entry:entry %}` links an entry only
for those its page lets in; `{{ name|erased_place }}` names a place an erasure counts."""

from django import template

from audit import erasure, services

register = template.Library()


@register.filter
def may_see_entry(user, entry) -> bool:
    return services.may_see_entry(user, entry)


@register.filter
def erased_place(name: str) -> str:
    return erasure.place_label(name)
