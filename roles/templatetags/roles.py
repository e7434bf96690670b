"""`{% if user|may_open:url %}`: show a button only to those its view lets in."""

from django import template

from roles import permissions

register = template.Library()


@register.filter
def may_open(user, path) -> bool:
    return permissions.may_open(user, str(path))
