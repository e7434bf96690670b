"""Holds every session to the second factor it owes, whatever page it asks for.

After django-otp's OTPMiddleware (which tells whether the session passed a second factor)
and portal.middleware.LoginThenBackMiddleware (so the user is logged in here):
- a user with a second factor whose session did not pass it (logged in before they set it
  up, elsewhere) logs in again, this time with a code;
- a user REQUIRE_2FA_FOR names, without one, can open only the page that sets it up.
A session the identity provider signed on (sso/) owes none: the provider asks for its own.
"""

from django.contrib import auth
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect

from portal.way_back import page_sent_from
from sso.sessions import signed_on

from .policy import has_second_factor, second_factor_required

# What a user who must set up a second factor may still do.
OPEN_WHILE_ENROLLING = {"twofactor:enrol", "logout", "set_language"}


class SecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or user.is_verified() or signed_on(request):
            return None
        if has_second_factor(user):
            auth.logout(request)
            # A form posted is sent back to its page after the login, as LoginThenBack
            # does (its own address may take only POSTs: 405 after password and code).
            page = page_sent_from(request) if request.method == "POST" else None
            return redirect_to_login(page or request.get_full_path())
        if (second_factor_required(user)
                and request.resolver_match.view_name not in OPEN_WHILE_ENROLLING):
            return redirect("twofactor:enrol")
        return None
