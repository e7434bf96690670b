"""Ends, at its next request, the password session of a user who may no longer log in with
a password (LOCAL_LOGIN=false, staff status taken away), as a turned-off user's ends: the
login form alone would refuse their next login, and leave the session they have for ever.
"""

from django.contrib import auth

from .local_login import password_login_allowed
from .sessions import signed_on


class PasswordSessionMiddleware:
    """After AuthenticationMiddleware, which gives the request its user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (not signed_on(request) and user.is_authenticated
                and not password_login_allowed(user)):
            auth.logout(request)
        return self.get_response(request)
