"""What the portal asks the identity provider, beside mozilla-django-oidc's token request
(sso.backends): its discovery document, read once and cached, and its JSON answers (JWKS,
userinfo), each one checked for its shape.

TLS certificates are always verified (requests' default); a provider that is down,
slow, or answers garbage raises SignInFailed(UNAVAILABLE), never an error page.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.cache import cache

from portal.caching import cache_answer

from .failures import Failure, SignInFailed

# Endpoints and keys rarely move; a provider that moved them is asked again within the hour.
DISCOVERY_CACHE_SECONDS = 3600
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}


@dataclass(frozen=True)
class ProviderConfiguration:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = ""
    end_session_endpoint: str = ""


def sso_enabled() -> bool:
    return bool(settings.OIDC_ISSUER)


def secure_url(url: str) -> bool:
    """https, or http to this machine only (a provider run beside the portal, in tests)."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)


def provider_configuration() -> ProviderConfiguration:
    """The endpoints OIDC_ISSUER/.well-known/openid-configuration names; raises SignInFailed."""
    issuer = settings.OIDC_ISSUER
    key = f"sso:discovery:{issuer}"
    document = cache_answer(cache.get, key)
    if document is None:
        document = provider_json(f"{issuer}/.well-known/openid-configuration")
        _configuration(document)
        cache_answer(cache.set, key, document, DISCOVERY_CACHE_SECONDS)
    return _configuration(document)


def _configuration(document: dict) -> ProviderConfiguration:
    # OpenID Connect Discovery 1.0, 4.3: the issuer it names must be the one asked.
    if str(document.get("issuer", "")).rstrip("/") != settings.OIDC_ISSUER:
        raise SignInFailed(Failure.UNAVAILABLE,
                           f"the discovery document names the issuer {document.get('issuer')!r}")
    values = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint",
                 "end_session_endpoint"):
        value = document.get(name, "")
        required = name in ("authorization_endpoint", "token_endpoint", "jwks_uri")
        if not isinstance(value, str) or (required and not value) or (
                value and not secure_url(value)):
            raise SignInFailed(Failure.UNAVAILABLE, f"the discovery document's {name} is "
                                                    f"missing or not an https URL: {value!r}")
        values[name] = value
    return ProviderConfiguration(issuer=document["issuer"], **values)


def provider_json(url: str, *, headers: dict | None = None) -> dict:
    """The JSON object the provider answers a GET of `url` with; raises SignInFailed."""
    try:
        response = requests.get(url, headers=headers, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except requests.RequestException as error:
        raise SignInFailed(Failure.UNAVAILABLE, f"GET {url}: {error}") from error
    if not isinstance(document, dict):
        raise SignInFailed(Failure.UNAVAILABLE, f"GET {url}: not a JSON object")
    return document
