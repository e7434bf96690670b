from django.conf import settings

from .provider import sso_enabled
from .sessions import signed_on


def single_sign_on(request):
    """The login page's button ("Sign in with <provider>"), and whether this session was
    signed on by the provider (then its password and second factor are the provider's)."""
    return {
        "sso_provider": settings.OIDC_PROVIDER_NAME if sso_enabled() else "",
        "local_login": settings.LOCAL_LOGIN,
        "signed_on": signed_on(request) if hasattr(request, "session") else False,
    }
