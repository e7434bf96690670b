"""Who may use a password (LOCAL_LOGIN): the login form's rule and the sessions' rule."""

from django.conf import settings


def password_login_allowed(user) -> bool:
    """True unless LOCAL_LOGIN=false leaves passwords to staff and the user is not staff."""
    return settings.LOCAL_LOGIN or user.is_staff
