"""Sign-on through the identity provider: the start (a redirect to it), its answer
(/oidc/callback/, the redirect URI to register), a page for each way it can fail, and a
logout that ends the session at the provider too."""

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import LogoutView
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.shortcuts import redirect, render, resolve_url
from django.utils.translation import gettext as _
from django.views.generic import View
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from .failures import Failure, SignInFailed
from .provider import provider_configuration, sso_enabled
from .sessions import ID_TOKEN, signed_on

logger = logging.getLogger(__name__)

_STATUS = {Failure.UNAVAILABLE: 503, Failure.DISABLED: 403}


def failure_page(request, failure: SignInFailed):
    logger.warning("single sign-on failed (%s): %s", failure.reason, failure.detail)
    provider = settings.OIDC_PROVIDER_NAME
    messages = {
        Failure.UNAVAILABLE: _("%(provider)s cannot be reached, or gave an answer the portal "
                               "cannot use. Try again in a few minutes; if it goes on, tell "
                               "your administrator."),
        Failure.REFUSED: _("%(provider)s did not sign you in. Sign in again."),
        Failure.STALE: _("This sign-in has ended already, or was started in another browser "
                         "or tab. Sign in again."),
        Failure.NOT_VERIFIED: _("The answer from %(provider)s could not be verified, so you "
                                "are not signed in. Sign in again."),
        Failure.EXPIRED: _("The sign-in from %(provider)s had expired when it arrived. Sign "
                           "in again; if it goes on, the clock of the portal or of "
                           "%(provider)s is wrong: tell your administrator."),
        Failure.GROUPS: _("%(provider)s sent your groups in a form the portal cannot read, "
                          "so you are not signed in. Tell your administrator."),
        Failure.DISABLED: _("Your portal account is turned off. Ask an administrator."),
    }
    return render(request, "sso/failed.html", {
        "message": messages[failure.reason] % {"provider": provider},
        "reason": failure.reason,
    }, status=_STATUS.get(failure.reason, 400))


class SignInStart(OIDCAuthenticationRequestView):
    """Sends the browser to the provider, with state, nonce and a PKCE challenge."""

    def __init__(self, **kwargs):
        # Not the library's __init__, which reads the endpoint from settings: discovery
        # gives it, in get(), where a provider that is down gets its page.
        View.__init__(self, **kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    def get(self, request):
        if not sso_enabled():
            raise Http404
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider_configuration().authorization_endpoint
        except SignInFailed as failure:
            return failure_page(request, failure)
        return super().get(request)


class SignInCallback(OIDCAuthenticationCallbackView):
    """The provider's answer: the library checks the state and logs the user in."""

    def get(self, request):
        if not sso_enabled():
            raise Http404
        if request.GET.get("error") and request.GET.get("state") not in request.session.get(
                "oidc_states", {}):
            # No sign-in of this session asked: the library would log the user out, so a
            # link to ".../callback/?error=x" on any site would end whoever's session.
            return failure_page(request, SignInFailed(
                Failure.STALE, "an error answer no sign-in of this session awaits"))
        try:
            return super().get(request)
        except SignInFailed as failure:
            return failure_page(request, failure)
        except SuspiciousOperation as error:
            # The library's word for a state no sign-in of this session started.
            return failure_page(request, SignInFailed(Failure.STALE, str(error)))

    def login_success(self):
        response = super().login_success()
        self.request.session[ID_TOKEN] = self.user.oidc_id_token
        return response

    def login_failure(self):
        error = self.request.GET.get("error")
        if error:
            failure = SignInFailed(Failure.REFUSED, f"the provider answered {error!r}: "
                                                    f"{self.request.GET.get('error_description')}")
        else:
            failure = SignInFailed(Failure.STALE, "no sign-in of this session awaits this answer")
        return failure_page(self.request, failure)


class ProviderLogoutView(LogoutView):
    """Django's logout; a session the provider signed on then ends at the provider too,
    when it offers RP-initiated logout (end_session_endpoint)."""

    def post(self, request, *args, **kwargs):
        id_token = request.session.get(ID_TOKEN) if signed_on(request) else ""
        # Logged out here first: on a shared computer the portal's session must end even
        # when the provider (or the cache of its endpoints) cannot be asked.
        response = super().post(request, *args, **kwargs)
        end_session = provider_logout_url(request, id_token) if id_token else ""
        return redirect(end_session) if end_session else response


def provider_logout_url(request, id_token: str) -> str:
    """Where to end the provider's session of this ID token, or "" (no such endpoint)."""
    if not sso_enabled():
        return ""
    try:
        endpoint = provider_configuration().end_session_endpoint
    except SignInFailed as failure:
        logger.warning("logged out here only, the provider is unavailable: %s", failure.detail)
        return ""
    if not endpoint:
        return ""
    query = urlencode({
        "id_token_hint": id_token,
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(
            resolve_url(settings.LOGOUT_REDIRECT_URL)),
    })
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
