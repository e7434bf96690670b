"""Single sign-on through a real OpenID Connect provider (tests/oidc.py): accounts made at
the first sign-on, portal groups set from the groups claim at each, and a clear page (never
a 500) for a wrong state or nonce, an expired token, a provider down or answering garbage."""

import copy
import logging
import threading

import pytest
import requests
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse

from audit.models import Entry
from notices.services import language_of
from sso import services
from sso.models import Identity
from sso.sessions import ID_TOKEN
from tests.conftest import (
    AUDITORS,
    COMPLIANCE,
    EDITORS,
    PASSWORD,
    make_user,
    skip_unless_postgresql,
)
from tests.db_threads import all_at_once
from tests.oidc import PROVIDER_NAME, provider_answer, start_provider, use_provider
from tests.test_kept_input import kept_on, post_after_the_session_ended


@pytest.fixture(scope="session")
def oidc_provider():
    yield from start_provider("http://testserver")


@pytest.fixture
def provider(oidc_provider, settings, db):
    oidc_provider.reset()
    use_provider(settings, oidc_provider)
    return oidc_provider


def sign_on(client, login: str):
    return client.get(provider_answer(client, login))


def failure_reason(response) -> str:
    assert b'data-testid="sign-in-failed"' in response.content, response.content[:2000]
    return response.content.split(b'data-reason="')[1].split(b'"')[0].decode()


def sign_on_entries(username):
    return list(Entry.objects.filter(kind="sign-on-roles", actor_username=username)
                .order_by("begin_seq"))


# --- signing on -------------------------------------------------------------------------


def test_the_login_page_offers_the_provider_only_when_an_issuer_is_set(client, provider,
                                                                       settings):
    # The button keeps where the login was headed for.
    page = client.get("/accounts/login/?next=/audit/").content.decode()
    assert 'href="/oidc/authenticate/?next=/audit/"' in page
    assert f"Sign in with {PROVIDER_NAME}" in client.get("/accounts/login/").content.decode()
    settings.OIDC_ISSUER = ""
    assert b"Sign in with" not in client.get("/accounts/login/").content
    assert client.get("/oidc/authenticate/").status_code == 404


def test_a_first_sign_on_creates_the_user_with_the_groups_the_claim_maps(client, provider):
    provider.set_account("alice", groups=["cc-editors", "cc-audit", "somebody-elses"])
    response = sign_on(client, "alice")

    assert response.status_code == 302 and response["Location"] == "/campaigns/"
    user = User.objects.get(username="alice")
    assert user.email == "alice@example.com" and not user.has_usable_password()
    assert set(user.groups.values_list("name", flat=True)) == {EDITORS, AUDITORS}
    assert Identity.objects.get(user=user).subject == "alice"
    assert client.get("/campaigns/").status_code == 200
    [entry] = sign_on_entries("alice")
    assert entry.details == {"account": "alice", "created": True,
                             "gained": [AUDITORS, EDITORS], "lost": []}
    assert entry.outcome == "succeeded"
    assert entry.sent == {"groups": ["cc-editors", "cc-audit"]}
    page = client.get(f"/audit/{entry.pk}/").content.decode()
    assert '<dd class="col-sm-9" data-testid="gained">Auditors, Campaign editors</dd>' in page
    polish = client.get(f"/audit/{entry.pk}/", HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert 'data-testid="gained">Audytorzy, Edytorzy kampanii</dd>' in polish


def test_a_user_signed_on_gets_mails_in_their_browser_s_language(provider):
    """SSO users never see the login page's language switch: they got English mails."""
    provider.set_account("alice", groups=["cc-editors"])
    assert sign_on(Client(HTTP_ACCEPT_LANGUAGE="pl"), "alice").status_code == 302
    assert language_of(User.objects.get(username="alice")) == "pl"


def test_a_group_taken_away_at_the_provider_is_lost_at_the_next_sign_on(client, provider):
    provider.set_account("alice", groups=["cc-editors", "cc-audit"])
    sign_on(client, "alice")
    user = User.objects.get(username="alice")
    # A group the map does not name is the administrator's to give, and stays.
    user.groups.add(Group.objects.get(name=COMPLIANCE))
    client.post("/accounts/logout/")

    provider.set_account("alice", groups=["cc-editors"])
    sign_on(client, "alice")

    assert set(user.groups.values_list("name", flat=True)) == {EDITORS, COMPLIANCE}
    assert sign_on_entries("alice")[-1].details == {
        "account": "alice", "created": False, "gained": [], "lost": [AUDITORS]}
    assert User.objects.filter(username__startswith="alice").count() == 1


def test_a_group_map_naming_a_group_the_portal_lacks_is_logged(client, provider, settings,
                                                              caplog):
    settings.OIDC_GROUP_MAP = {"cc-editors": EDITORS, "cc-ghosts": "Ghosts"}
    provider.set_account("alice", groups=["cc-editors", "cc-ghosts"])
    with caplog.at_level(logging.WARNING, logger="sso.services"):
        sign_on(client, "alice")
    assert "OIDC_GROUP_MAP names groups the portal does not have: Ghosts" in caplog.text
    assert set(User.objects.get(username="alice").groups.values_list("name", flat=True)) == {
        EDITORS}


def test_a_form_posted_after_the_session_ended_comes_back_filled_after_a_sign_on(
    client, provider, campaigns
):
    provider.set_account("alice", groups=["cc-loaders"])
    page = reverse("records:new", args=["00001"])
    sign_on(client, "alice")
    post_after_the_session_ended(client, page, page, {"phone_number": "601234567"})

    back = client.get(provider_answer(client, "alice", start=f"/oidc/authenticate/?next={page}"),
                      follow=True)

    assert back.redirect_chain[-1][0] == page
    assert kept_on(back)["fields"] == {"phone_number": ["601234567"]}


def test_a_sign_on_that_changes_nothing_writes_no_audit_entry(client, provider):
    provider.set_account("alice", groups=["cc-editors"])
    sign_on(client, "alice")
    client.post("/accounts/logout/")
    sign_on(client, "alice")
    assert len(sign_on_entries("alice")) == 1


def test_a_local_account_of_the_same_name_is_not_handed_to_the_provider_s_user(client,
                                                                               provider):
    local = make_user("alice", EDITORS)
    provider.set_account("alice", groups=[])
    sign_on(client, "alice")
    signed_on = Identity.objects.get(subject="alice").user
    assert signed_on != local and signed_on.username == "alice-2"


def test_an_e_mail_claim_longer_than_an_account_s_address_is_left_out(client, provider,
                                                                      caplog):
    """It gave a 500 at the first sign-on on PostgreSQL, and at every sign-on of a user
    whose address it became."""
    long = "a" * 250 + "@example.com"
    provider.set_account("alice", groups=[], email=long)
    with caplog.at_level(logging.WARNING, logger="sso.services"):
        assert sign_on(client, "alice")["Location"] == "/campaigns/"
    assert User.objects.get(username="alice").email == ""
    assert "the 'email' claim is 262 characters long" in caplog.text and long not in caplog.text
    for email in ("alice@example.com", long):
        client.post("/accounts/logout/")
        provider.set_account("alice", groups=[], email=email)
        assert sign_on(client, "alice")["Location"] == "/campaigns/"
        assert User.objects.get(username="alice").email == "alice@example.com"


@pytest.mark.parametrize("odd", ["\u0000", "\ud800"], ids=["NUL", "lone-surrogate"])
def test_a_name_or_e_mail_claim_the_database_cannot_store_is_left_out(client, provider, odd):
    provider.set_account("carol", groups=[], preferred_username=f"ca{odd}rol")
    assert sign_on(client, "carol")["Location"] == "/campaigns/"
    assert Identity.objects.get(subject="carol").user.username == "carol@example.com"
    client.post("/accounts/logout/")
    provider.set_account("carol", groups=[], email=f"carol{odd}@example.com")
    assert sign_on(client, "carol")["Location"] == "/campaigns/"
    assert User.objects.get(username="carol@example.com").email == "carol@example.com"


def first_sign_ons_at_once(tabs: list[tuple[Client, str]], monkeypatch) -> list[int]:
    """Open each tab's answer of the provider at once, in threads: every sign-on has looked
    its user up (and found none) and chosen a name before any creates a user."""
    barrier = threading.Barrier(len(tabs), timeout=30)
    named = threading.local()
    free_username = services._free_username

    def name_then_wait(claims):
        name = free_username(claims)
        if not getattr(named, "once", False):
            named.once = True
            barrier.wait()
        return name

    monkeypatch.setattr(services, "_free_username", name_then_wait)
    statuses = []
    all_at_once([lambda tab=tab, answer=answer: statuses.append(tab.get(answer).status_code)
                 for tab, answer in tabs])
    return statuses


@pytest.mark.django_db(transaction=True)
def test_a_first_sign_on_in_two_tabs_at_once_signs_both_on_as_one_user(provider, monkeypatch):
    """The second answered 500 (IntegrityError): there was no user yet to lock."""
    skip_unless_postgresql(connection)
    provider.set_account("dave", groups=["cc-editors"])
    browser = Client()
    answers = [provider_answer(browser, "dave") for _ in range(2)]
    tabs = [(Client(), answer) for answer in answers]
    for tab, _answer in tabs:
        tab.cookies = copy.deepcopy(browser.cookies)

    assert first_sign_ons_at_once(tabs, monkeypatch) == [302, 302]
    assert list(User.objects.values_list("username", flat=True)) == ["dave"]
    assert Identity.objects.get().user.username == "dave"
    assert len(sign_on_entries("dave")) == 1
    for tab, _answer in tabs:
        assert tab.get("/campaigns/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_new_users_signing_on_at_once_under_one_name_both_get_an_account(provider,
                                                                             monkeypatch):
    skip_unless_postgresql(connection)
    provider.set_account("dave", groups=[])
    provider.set_account("david", groups=[], preferred_username="dave")
    tabs = [(browser, provider_answer(browser, login))
            for browser, login in ((Client(), "dave"), (Client(), "david"))]

    assert first_sign_ons_at_once(tabs, monkeypatch) == [302, 302]
    assert sorted(Identity.objects.values_list("subject", "user__username")) in (
        [("dave", "dave"), ("david", "dave-2")], [("dave", "dave-2"), ("david", "dave")])


@pytest.mark.django_db(transaction=True)
def test_three_new_users_signing_on_at_once_under_one_name_each_get_an_account(provider,
                                                                               monkeypatch):
    """The two who lost the name retried once, both with the next free name: one of them
    lost again, and answered 500."""
    skip_unless_postgresql(connection)
    logins = ("dave", "david", "davey")
    for login in logins:
        provider.set_account(login, groups=[], preferred_username="dave")
    tabs = [(browser, provider_answer(browser, login))
            for browser, login in ((Client(), login) for login in logins)]

    assert first_sign_ons_at_once(tabs, monkeypatch) == [302, 302, 302]
    assert sorted(Identity.objects.values_list("user__username", flat=True)) == [
        "dave", "dave-2", "dave-3"]
    assert sorted(Identity.objects.values_list("subject", flat=True)) == sorted(logins)


def test_a_user_turned_off_in_the_portal_is_not_signed_on(client, provider):
    provider.set_account("alice", groups=["cc-editors"])
    sign_on(client, "alice")
    client.post("/accounts/logout/")
    User.objects.filter(username="alice").update(is_active=False)

    response = sign_on(client, "alice")
    assert response.status_code == 403 and failure_reason(response) == "disabled"
    assert client.get("/campaigns/").status_code == 302


def test_a_user_turned_off_while_signed_on_is_logged_out_at_the_next_request(client,
                                                                              provider):
    provider.set_account("alice", groups=["cc-editors"])
    sign_on(client, "alice")
    User.objects.filter(username="alice").update(is_active=False)
    assert client.get("/campaigns/").status_code == 302


def test_the_provider_owns_the_second_factor_of_the_users_it_signs_on(client, provider,
                                                                      settings):
    settings.REQUIRE_2FA_FOR = [EDITORS]
    provider.set_account("alice", groups=["cc-editors"])
    sign_on(client, "alice")
    page = client.get("/campaigns/")
    assert page.status_code == 200
    assert b"Two-factor login" not in page.content


# --- logging out ------------------------------------------------------------------------


def test_logging_out_ends_the_session_at_the_provider_too(client, provider):
    provider.set_account("alice", groups=[])
    sign_on(client, "alice")
    id_token = client.session[ID_TOKEN]

    response = client.post("/accounts/logout/")
    location = response["Location"]
    assert location.startswith(f"{provider.url}/session/end?")
    assert f"id_token_hint={id_token}" in location
    assert "post_logout_redirect_uri=http%3A%2F%2Ftestserver%2Faccounts%2Flogin%2F" in location
    # The provider takes the hint and the way back (an error page otherwise): it goes on to
    # confirm the logout (its own page, or straight on for a browser it has no session of).
    asked = requests.get(location, timeout=5)
    assert asked.status_code == 200 and f'action="{provider.url}/session/end/confirm"' in asked.text
    assert client.get("/campaigns/").status_code == 302


def test_the_admin_s_log_out_ends_the_session_at_the_provider_too(client, provider):
    provider.set_account("alice", groups=[])
    sign_on(client, "alice")
    User.objects.filter(username="alice").update(is_staff=True)
    assert 'action="/admin/logout/"' in client.get("/admin/").content.decode()
    id_token = client.session[ID_TOKEN]

    location = client.post("/admin/logout/")["Location"]
    assert location.startswith(f"{provider.url}/session/end?")
    assert f"id_token_hint={id_token}" in location
    assert client.get("/admin/").status_code == 302


def test_a_provider_down_at_logout_still_logs_out_here(client, provider, settings, caplog):
    provider.set_account("alice", groups=[])
    sign_on(client, "alice")
    cache.clear()  # the discovery document is asked again, of a provider that is down
    provider.set_fault("/.well-known/openid-configuration", status=503, body="down")
    with caplog.at_level(logging.WARNING, logger="sso.views"):
        response = client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"
    assert "logged out here only, the provider is unavailable" in caplog.text
    assert client.get("/campaigns/").status_code == 302


def test_signing_on_and_out_work_with_the_cache_down(client, provider, settings,
                                                    cache_down):
    """With Redis down the sign-on's start and the logout answered 500, and the session
    stayed logged in: the provider's endpoints are asked for each time instead."""
    provider.set_account("alice", groups=["cc-editors"])
    assert sign_on(client, "alice")["Location"] == "/campaigns/"
    assert client.get("/campaigns/").status_code == 200

    response = client.post("/accounts/logout/")
    assert response["Location"].startswith(f"{provider.url}/session/end?")
    assert client.get("/campaigns/").status_code == 302


def test_a_logout_ends_the_session_here_whatever_asking_the_provider_raises(client, provider,
                                                                          monkeypatch):
    provider.set_account("alice", groups=[])
    sign_on(client, "alice")

    def endpoints():
        raise RuntimeError("a bug, or a cache failing as no one foresaw")

    monkeypatch.setattr("sso.views.provider_configuration", endpoints)
    client.raise_request_exception = False
    assert client.post("/accounts/logout/").status_code == 500
    assert client.get("/campaigns/").status_code == 302


def test_a_password_login_logs_out_as_before(client, provider):
    make_user("bob", EDITORS)
    client.post("/accounts/login/", {"username": "bob", "password": PASSWORD})
    assert client.post("/accounts/logout/")["Location"] == "/accounts/login/"


def test_a_password_login_logs_out_of_the_admin_as_of_the_portal(client, provider):
    make_user("root", is_staff=True)
    client.post("/accounts/login/", {"username": "root", "password": PASSWORD})
    assert client.post("/admin/logout/")["Location"] == "/accounts/login/"
    assert client.get("/admin/").status_code == 302


def test_other_people_s_wrong_passwords_from_the_office_do_not_lock_sign_ons_out(
        client, provider, settings):
    provider.set_account("alice", groups=["cc-editors"])
    make_user("bob", EDITORS)
    colleague = client.__class__()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        colleague.post("/accounts/login/", {"username": "bob", "password": "wrong"})
    assert colleague.post("/accounts/login/", {"username": "bob", "password": PASSWORD}
                          ).status_code == 429  # the office's address is locked for passwords
    failures = AccessAttempt.objects.count()

    assert sign_on(client, "alice").status_code == 302
    assert AccessAttempt.objects.count() == failures  # nor counted as one more failure


# --- local logins -----------------------------------------------------------------------


def test_without_local_logins_only_staff_log_in_with_a_password(client, provider, settings):
    settings.LOCAL_LOGIN = False
    make_user("bob", EDITORS)
    make_user("root", is_staff=True)

    refused = client.post("/accounts/login/", {"username": "bob", "password": PASSWORD})
    assert refused.status_code == 200
    assert (f"Logging in with a password is turned off: sign in with {PROVIDER_NAME}."
            in refused.content.decode())
    assert client.get("/campaigns/").status_code == 302
    # A wrong password gets the same words: the form tells no one which password is good.
    wrong = client.post("/accounts/login/", {"username": "bob", "password": "not-it"})
    assert wrong.context["form"].errors == refused.context["form"].errors
    staff = client.post("/accounts/login/", {"username": "root", "password": PASSWORD})
    assert staff.status_code == 302 and client.get("/campaigns/").status_code == 200


def test_without_local_logins_a_password_session_ends_when_staff_status_is_taken(
        client, provider, settings):
    settings.LOCAL_LOGIN = False
    make_user("root", EDITORS, is_staff=True)
    client.post("/accounts/login/", {"username": "root", "password": PASSWORD})
    provider.set_account("alice", groups=["cc-editors"])
    signed_on = Client()
    sign_on(signed_on, "alice")
    User.objects.filter(username__in=["root", "alice"]).update(is_staff=False)

    assert client.get("/campaigns/").status_code == 302
    assert SESSION_KEY not in client.session
    # A session the provider signed on owes nothing to staff status.
    assert signed_on.get("/campaigns/").status_code == 200


# --- failures: a clear page, never a 500 ------------------------------------------------


def test_a_tampered_state_gets_its_page(client, provider):
    provider.set_account("alice", groups=[])
    answer = provider_answer(client, "alice").replace("state=", "state=x")
    response = client.get(answer)
    assert response.status_code == 400 and failure_reason(response) == "stale"
    assert not User.objects.filter(username="alice").exists()


def test_an_answer_to_a_sign_in_of_another_browser_gets_its_page(client, provider):
    provider.set_account("alice", groups=[])
    answer = provider_answer(client, "alice")
    client.cookies.clear()
    assert failure_reason(client.get(answer)) == "stale"


def test_a_token_with_another_nonce_gets_its_page(client, provider):
    provider.set_account("alice", groups=[])
    answer = provider_answer(client, "alice")
    session = client.session
    for started in session["oidc_states"].values():
        started["nonce"] = "another-sign-in"
    session.save()
    response = client.get(answer)
    assert response.status_code == 400 and failure_reason(response) == "not-verified"
    assert not User.objects.filter(username="alice").exists()


def test_an_expired_token_gets_its_page(client, provider):
    # The provider's clock 20 minutes behind: its ID tokens (10 minutes) are born expired.
    provider.set_clock_offset(-1200)
    provider.set_account("alice", groups=[])
    response = sign_on(client, "alice")
    assert response.status_code == 400 and failure_reason(response) == "expired"


def test_a_provider_that_refuses_gets_its_page(client, provider):
    client.get("/oidc/authenticate/")
    state = next(iter(client.session["oidc_states"]))
    response = client.get(f"/oidc/callback/?error=access_denied&state={state}")
    assert failure_reason(response) == "refused"
    assert state not in client.session["oidc_states"]


def test_a_link_to_an_error_answer_no_sign_in_awaits_logs_no_one_out(client, provider):
    make_user("bob", EDITORS)
    assert client.post("/accounts/login/", {"username": "bob", "password": PASSWORD}
                       ).status_code == 302
    response = client.get("/oidc/callback/?error=access_denied&state=forged")
    assert failure_reason(response) == "stale"
    assert client.get("/campaigns/").status_code == 200


def test_a_provider_that_is_down_gets_its_page(client, provider, settings, caplog):
    settings.OIDC_ISSUER = "http://127.0.0.1:9"
    with caplog.at_level(logging.WARNING, logger="sso.views"):
        response = client.get("/oidc/authenticate/")
    assert response.status_code == 503 and failure_reason(response) == "unavailable"
    assert "single sign-on failed (unavailable)" in caplog.text


@pytest.mark.parametrize("subject", ["s" * 256, "s\u0000b"], ids=["256-characters", "NUL"])
def test_a_subject_the_portal_cannot_store_gets_the_unavailable_page(client, provider, subject):
    """OpenID Connect allows 255 characters; a longer one gave a 500 on PostgreSQL."""
    provider.set_account(subject, groups=[], preferred_username="bob")
    response = sign_on(client, subject)
    assert response.status_code == 503 and failure_reason(response) == "unavailable"
    assert not User.objects.filter(username="bob").exists()


@pytest.mark.parametrize("path, status, body", [
    ("/.well-known/openid-configuration", 200, "<html>not json</html>"),
    ("/.well-known/openid-configuration", 200, '["a list"]'),
    ("/.well-known/openid-configuration", 200, '{"issuer": "https://elsewhere.example"}'),
    ("/.well-known/openid-configuration", 502, "Bad gateway"),
])
def test_discovery_garbage_gets_the_unavailable_page(client, provider, path, status, body):
    provider.set_fault(path, status=status, body=body)
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 503 and failure_reason(response) == "unavailable"


@pytest.mark.parametrize("path, status, body, reason", [
    ("/token", 500, "Internal error", "unavailable"),
    ("/token", 400, '{"error": "invalid_grant"}', "refused"),
    ("/token", 401, '{"error": "invalid_client"}', "unavailable"),  # a rotated secret
    ("/token", 400, '{"error": "unauthorized_client"}', "unavailable"),
    ("/token", 200, "not json", "unavailable"),
    ("/token", 200, '{"access_token": "x"}', "unavailable"),
    ("/token", 200, '{"id_token": "not.a.jwt", "access_token": "x"}', "not-verified"),
    ("/jwks", 200, '{"keys": "none"}', "unavailable"),
    ("/jwks", 200, '{"keys": []}', "unavailable"),
    ("/jwks", 404, "", "unavailable"),
    ("/me", 200, '{"sub": "mallory"}', "not-verified"),
    ("/me", 401, '{"error": "invalid_token"}', "unavailable"),
])
def test_garbage_from_the_provider_during_a_sign_on_gets_its_page(client, provider, path,
                                                                   status, body, reason):
    provider.set_account("alice", groups=["cc-editors"])
    answer = provider_answer(client, "alice")
    provider.set_fault(path, status=status, body=body)
    response = client.get(answer)
    assert response.status_code in (400, 503) and failure_reason(response) == reason
    assert not User.objects.filter(username="alice").exists()


@pytest.mark.parametrize("groups", ["cc-editors", 7, {"cc-editors": True}, ["cc-audit", 1]],
                         ids=["string", "number", "object", "list-with-a-number"])
def test_a_groups_claim_of_the_wrong_type_gets_its_page_and_a_log_line(client, provider,
                                                                       groups, caplog):
    provider.set_account("alice", groups=groups)
    with caplog.at_level(logging.WARNING, logger="sso.views"):
        response = sign_on(client, "alice")
    assert response.status_code == 400 and failure_reason(response) == "groups"
    assert "'groups' claim is a" in caplog.text
    assert not User.objects.filter(username="alice").exists()


def test_a_missing_groups_claim_means_no_portal_groups(client, provider):
    provider.set_account("alice", groups=["cc-audit"])
    sign_on(client, "alice")
    client.post("/accounts/logout/")
    provider.set_account("alice")
    sign_on(client, "alice")
    assert not User.objects.get(username="alice").groups.exists()
