"""One way to guard a view by permission, and to ask whether a user may open a URL.

Views declare what they need with `@requires(...)`; pages ask `may_open` (the template
filter of the same name) before showing a button, so no button leads to a 403.
Anonymous users never reach the check: LoginThenBackMiddleware sends them to log in.
"""

from django.contrib.auth.decorators import permission_required
from django.urls import Resolver404, get_script_prefix, resolve


def requires(permission: str):
    """Answer 403 to a logged-in user without `permission` ("app_label.codename")."""

    def decorator(view):
        guarded = permission_required(permission, raise_exception=True)(view)
        guarded.required_permission = permission
        return guarded

    return decorator


def may_open(user, path: str) -> bool:
    """True when `user` would pass the permission check of the view at `path`."""
    # Reversed URLs carry the prefix the portal is mounted under; resolve() wants it off.
    try:
        view = resolve("/" + path.removeprefix(get_script_prefix())).func
    except Resolver404:
        return False
    permission = getattr(view, "required_permission", None)
    return user.is_authenticated and (permission is None or user.has_perm(permission))
