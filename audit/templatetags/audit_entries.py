"""`{% if user|may_see_entry:entry %}`: link an audit entry only for those its page lets in."""

from django import template

from audit import services

register = template.Library()


@register.filter
def may_see_entry(user, entry) -> bool:
    return services.may_see_entry(user, entry)
