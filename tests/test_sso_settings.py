"""Single sign-on's settings: on only with OIDC_ISSUER and its client, over https, with a
group map that reads; each mistake stops the start with a line naming the variable.
(Django in a subprocess from a fresh copy of the project, as tests/test_settings.py does.)"""

import json

import pytest

from tests.test_settings import KEY, fresh_checkout, refusal, run_django  # noqa: F401

SSO = {"OIDC_ISSUER": "https://login.example.com/realms/acme/",
       "OIDC_CLIENT_ID": "thulium-portal", "OIDC_CLIENT_SECRET": "a-client-secret"}
SHOW = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "issuer": settings.OIDC_ISSUER, "name": settings.OIDC_PROVIDER_NAME,
    "map": settings.OIDC_GROUP_MAP, "claim": settings.OIDC_GROUPS_CLAIM,
    "backends": settings.AUTHENTICATION_BACKENDS,
    "form_action": settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"],
}))
"""


def settings_with(checkout, environment) -> dict:
    result = run_django(checkout, {**KEY, **environment}, "-c", SHOW)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_without_an_issuer_single_sign_on_is_off(fresh_checkout):  # noqa: F811
    shown = settings_with(fresh_checkout, {})
    assert "sso.backends.ProviderBackend" not in shown["backends"]
    assert shown["form_action"] == ["'self'"]


def test_an_issuer_turns_it_on_with_its_origin_allowed_to_end_sessions(fresh_checkout):  # noqa: F811
    shown = settings_with(fresh_checkout, {
        **SSO, "OIDC_GROUP_MAP": "cc-editors=Campaign editors, cc-audit = Auditors"})
    assert shown["issuer"] == "https://login.example.com/realms/acme"
    assert shown["name"] == "login.example.com" and shown["claim"] == "groups"
    assert shown["map"] == {"cc-editors": "Campaign editors", "cc-audit": "Auditors"}
    assert shown["backends"][-1] == "sso.backends.ProviderBackend"
    assert shown["form_action"] == ["'self'", "https://login.example.com"]


@pytest.mark.parametrize("environment, message", [
    ({**SSO, "OIDC_CLIENT_SECRET": ""}, "OIDC_CLIENT_SECRET is not set: OIDC_ISSUER needs it."),
    ({**SSO, "OIDC_ISSUER": "http://login.example.com"}, "OIDC_ISSUER must start with https://."),
    ({**SSO, "OIDC_GROUP_MAP": "cc-editors"}, "OIDC_GROUP_MAP must read claim-value=Group "
     "name, comma separated, e.g. cc-editors=Campaign editors."),
    ({"LOCAL_LOGIN": "false"}, "LOCAL_LOGIN=false needs OIDC_ISSUER: only staff could log in."),
], ids=["no-secret", "plain-http", "bad-map", "no-local-login-without-sso"])
def test_a_mistake_stops_the_start_naming_the_variable(fresh_checkout, environment,  # noqa: F811
                                                       message):
    result = run_django(fresh_checkout, {**KEY, **environment}, "manage.py", "check")
    assert refusal(result) == message
    assert "a-client-secret" not in result.stderr
