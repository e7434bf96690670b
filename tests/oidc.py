"""A real OpenID Connect provider for the single sign-on tests: `oidc-provider` from npm,
run by node (tests/oidc_provider/provider.mjs), or a clear reason why not.

Its accounts, faults and clock live in a JSON file the tests rewrite; the provider reads
it at every request, so a group taken away shows at the next sign-on.
"""

import json
import os
import re
import select
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
CLIENT_ID, CLIENT_SECRET = "portal", "portal-test-secret"
PROVIDER_NAME = "Test SSO"
GROUP_MAP = {"cc-editors": "Campaign editors", "cc-loaders": "Record loaders",
             "cc-audit": "Auditors"}
START_SECONDS = 30


@dataclass
class TestProvider:
    url: str
    process: subprocess.Popen
    state_path: Path
    state: dict = field(default_factory=dict)

    def reset(self) -> None:
        self.state = {"accounts": {}, "faults": {}, "clock_offset_seconds": 0}
        self._save()

    def set_account(self, login: str, **claims) -> None:
        """The claims the provider gives `login` from its next token on."""
        self.state["accounts"][login] = {"email": f"{login}@example.com",
                                         "preferred_username": login, **claims}
        self._save()

    def set_fault(self, path: str, *, status: int = 200, body: str = "",
                  content_type: str = "application/json") -> None:
        """Answer requests to `path` with this instead of the provider's own answer."""
        self.state["faults"][path] = {"status": status, "body": body, "type": content_type}
        self._save()

    def set_clock_offset(self, seconds: int) -> None:
        self.state["clock_offset_seconds"] = seconds
        self._save()

    def _save(self) -> None:
        self.state_path.write_text(json.dumps(self.state))


def _unavailable_reason() -> str | None:
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            return f"{tool} is not installed (the test provider runs on node and npm)"
    return None


def _signing_key() -> str:
    """A new RSA private key as a JWK, for the provider to sign its ID tokens with."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key, as_dict=True)
    # PyJWT's key_ops ["sign"] would keep the provider from verifying its own tokens (the
    # id_token_hint of a logout) with the key's public half.
    jwk.pop("key_ops", None)
    return json.dumps(jwk)


def start_provider(*portal_urls: str):
    """Start the provider with a client for each portal URL; yield it, stop it after."""
    reason = _unavailable_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the single sign-on tests: {reason}")
        pytest.skip(reason)
    if not (PROVIDER_DIR / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR, check=True,
                       capture_output=True, timeout=300)
    client = {
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "token_endpoint_auth_method": "client_secret_post",
        "redirect_uris": [f"{url}/oidc/callback/" for url in portal_urls],
        "post_logout_redirect_uris": [f"{url}/accounts/login/" for url in portal_urls],
    }
    with tempfile.TemporaryDirectory() as folder:
        state_path = Path(folder) / "state.json"
        state_path.write_text(json.dumps({"accounts": {}}))
        log = open(Path(folder) / "provider.log", "w+")  # closed below
        process = subprocess.Popen(
            ["node", "provider.mjs"], cwd=PROVIDER_DIR, stdout=subprocess.PIPE, stderr=log,
            text=True, env={**os.environ, "OIDC_TEST_CLIENTS": json.dumps([client]),
                            "OIDC_TEST_STATE": str(state_path),
                            "OIDC_TEST_SIGNING_KEY": _signing_key()})
        try:
            started, _, _ = select.select([process.stdout], [], [], START_SECONDS)
            line = process.stdout.readline() if started else ""
            if not line.startswith("listening "):
                log.seek(0)
                pytest.fail(f"the test provider did not start: {line}{log.read()}")
            provider = TestProvider(line.split()[1], process, state_path)
            provider.reset()
            yield provider
        finally:
            process.terminate()
            process.wait(timeout=10)
            log.close()


def use_provider(settings, provider: TestProvider) -> None:
    """Point the portal at the provider, as OIDC_ISSUER and its companions would."""
    settings.OIDC_ISSUER = provider.url
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_PROVIDER_NAME = PROVIDER_NAME
    settings.OIDC_RP_SCOPES = "openid email profile groups"
    settings.OIDC_GROUP_MAP = GROUP_MAP
    settings.OIDC_TIMEOUT = 5.0
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS,
                                        "sso.backends.ProviderBackend"]
    policy = settings.CONTENT_SECURITY_POLICY
    directives = {**policy["DIRECTIVES"],
                  "form-action": [*policy["DIRECTIVES"]["form-action"], provider.url]}
    settings.CONTENT_SECURITY_POLICY = {**policy, "DIRECTIVES": directives}


def provider_answer(client, login: str, *, start: str = "/oidc/authenticate/") -> str:
    """Start a sign-on in the portal (Django's test client), sign `login` in at the provider
    as its login form asks (any password), and return the portal URL the provider sends
    the browser back to (path and query), not opened yet."""
    response = client.get(start)
    assert response.status_code == 302, response.content
    location = response["Location"]
    browser = requests.Session()
    for _step in range(10):
        if location.startswith("http://testserver/"):
            parts = urlsplit(location)
            return f"{parts.path}?{parts.query}"
        answer = browser.get(location, allow_redirects=False, timeout=5)
        if answer.status_code == 200:
            action = re.search(r'<form[^>]*action="([^"]+)"', answer.text).group(1)
            answer = browser.post(urljoin(location, action), allow_redirects=False, timeout=5,
                                  data={"prompt": "login", "login": login, "password": "any"})
        assert answer.is_redirect, (answer.status_code, answer.text[:500])
        location = urljoin(location, answer.headers["Location"])
    raise AssertionError("the provider never sent the browser back to the portal")
