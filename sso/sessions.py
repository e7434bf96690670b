"""What a session signed on by the identity provider keeps."""

from django.contrib.auth import BACKEND_SESSION_KEY

BACKEND = "sso.backends.ProviderBackend"
# The ID token of the sign-on, sent back as id_token_hint when the session logs out.
ID_TOKEN = "sso_id_token"


def signed_on(request) -> bool:
    """True when the provider signed this session on: the provider, not the portal, owns
    its password and its second factor."""
    return request.session.get(BACKEND_SESSION_KEY) == BACKEND
