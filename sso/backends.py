"""Signs on the users the identity provider vouches for (mozilla-django-oidc's code flow,
with state, nonce and PKCE), creating them at their first sign-on and setting their
portal groups from the groups claim at each one.

The library's flow is kept; what it leaves open is closed here: the endpoints come from
discovery when a sign-on needs them (not on every password login, which also builds this
backend), the ID token must be RS256 from the provider's JWKS, for this client, from this
issuer and not expired, and every way the provider can fail becomes a SignInFailed.
"""

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.utils.crypto import constant_time_compare
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from .failures import Failure, SignInFailed
from .models import Identity
from .provider import provider_configuration, provider_json, sso_enabled
from .services import claimed_groups, storable, user_sign_on

SIGN_ALGORITHM = "RS256"
# Clocks of the portal and the provider may differ this much (seconds).
CLOCK_LEEWAY = 60
SUBJECT_LENGTH = Identity._meta.get_field("subject").max_length


class ProviderBackend(OIDCAuthenticationBackend):
    def __init__(self):
        # Not the library's __init__: it reads the endpoints from settings, which discovery
        # fills (the properties below) only when a sign-on asks.
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = SIGN_ALGORITHM
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.UserModel = get_user_model()

    # Django's, which the library's skips: a user turned off is logged out at their next
    # request, not only refused at their next sign-on.
    get_user = ModelBackend.get_user

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self):  # the library reads it under this name
        return provider_configuration().token_endpoint

    def authenticate(self, request, **kwargs):
        # Only the callback view passes a nonce: a password login is not this backend's.
        if "nonce" not in kwargs or not sso_enabled():
            return None
        return super().authenticate(request, **kwargs)

    def get_token(self, payload):
        """The token endpoint's answer to the code; raises SignInFailed."""
        try:
            answer = super().get_token(payload)
        except requests.HTTPError as error:
            status = error.response.status_code if error.response is not None else 0
            # 4xx: the code was refused (used, expired, or not this client's); but the
            # portal itself refused (a client secret rotated at the provider) is for an
            # administrator to mend, not for the user to try again.
            reason = Failure.REFUSED if 400 <= status < 500 else Failure.UNAVAILABLE
            if status == 401 or _oauth_error(error.response) in _CLIENT_REFUSED:
                reason = Failure.UNAVAILABLE
            raise SignInFailed(reason, str(error)) from error
        except requests.RequestException as error:
            raise SignInFailed(Failure.UNAVAILABLE, f"token endpoint: {error}") from error
        if not isinstance(answer, dict) or not isinstance(answer.get("id_token"), str):
            raise SignInFailed(Failure.UNAVAILABLE, "the token endpoint gave no ID token")
        return answer

    def verify_token(self, token, **kwargs):
        """The ID token's claims, once its signature, issuer, audience, times and nonce are
        right; raises SignInFailed."""
        configuration = provider_configuration()
        try:
            claims = jwt.decode(
                token, self._signing_key(token, configuration.jwks_uri),
                algorithms=[SIGN_ALGORITHM], audience=self.OIDC_RP_CLIENT_ID,
                issuer=configuration.issuer, leeway=CLOCK_LEEWAY,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise SignInFailed(Failure.EXPIRED, str(error)) from error
        except jwt.PyJWTError as error:
            raise SignInFailed(Failure.NOT_VERIFIED, str(error)) from error
        if not constant_time_compare(str(claims.get("nonce", "")), str(kwargs.get("nonce"))):
            raise SignInFailed(Failure.NOT_VERIFIED, "the ID token's nonce is another sign-on's")
        return claims

    def _signing_key(self, token: str, jwks_uri: str) -> jwt.PyJWK:
        kid = jwt.get_unverified_header(token).get("kid")
        try:
            keys = jwt.PyJWKSet.from_dict(provider_json(jwks_uri)).keys
        except jwt.PyJWKSetError as error:
            raise SignInFailed(Failure.UNAVAILABLE, f"the provider's JWKS: {error}") from error
        for key in keys:
            if key.algorithm_name == SIGN_ALGORITHM and (kid is None or key.key_id == kid):
                return key
        raise SignInFailed(Failure.NOT_VERIFIED, f"no RS256 key {kid!r} in the provider's JWKS")

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims, completed by the userinfo endpoint's when there is one."""
        endpoint = provider_configuration().userinfo_endpoint
        if not endpoint:
            return payload
        info = provider_json(endpoint, headers={"Authorization": f"Bearer {access_token}",
                                                "Accept": "application/json"})
        # OpenID Connect Core 1.0, 5.3.2: userinfo about someone else must not be used.
        if info.get("sub") != payload["sub"]:
            raise SignInFailed(Failure.NOT_VERIFIED, "userinfo is about another subject")
        return {**payload, **info}

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise SignInFailed(Failure.NOT_VERIFIED, "no subject (sub) in the claims")
        # OpenID Connect Core 1.0, 2: "It MUST NOT exceed 255 ASCII characters in length."
        if len(claims["sub"]) > SUBJECT_LENGTH or not storable(claims["sub"]):
            raise SignInFailed(Failure.UNAVAILABLE,
                               f"the subject (sub) is {len(claims['sub'])} characters long, "
                               f"or holds one the portal cannot store")
        user = user_sign_on(issuer=provider_configuration().issuer, claims=claims,
                            groups=claimed_groups(claims))
        if not user.is_active:
            raise SignInFailed(Failure.DISABLED, f"{user.get_username()} is turned off")
        # For the logout at the provider (id_token_hint); the callback keeps it in the session.
        user.oidc_id_token = id_token
        return user


# RFC 6749 5.2: the token endpoint refused the portal as a client, not the user's code.
_CLIENT_REFUSED = {"invalid_client", "unauthorized_client"}


def _oauth_error(response) -> str:
    """The `error` of a token endpoint's JSON answer, or ""."""
    try:
        body = response.json()
    except (AttributeError, ValueError):
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""
