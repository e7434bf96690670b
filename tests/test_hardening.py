"""Defences every web application needs: throttled logins, short-lived sessions, safe
cookies, CSRF on every form, a strict Content-Security-Policy and no framing."""

import datetime
import json
import logging
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.db.models import Sum
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from campaigns.four_eyes import change_request_create
from campaigns.services import campaign_update
from portal.caching import SESSION_ENGINES_IN_CACHE
from portal.login_throttling import client_ip
from portal.middleware import RENEWED_AT, renew_after
from records.services import record_add
from tests.conftest import PASSWORD, make_user
from tests.db_threads import posted_at_once
from tests.production.processes import production_env
from tests.test_twofactor import code_at, enrolled

LOGIN = "/accounts/login/"


def log_in(client, username, password, address="10.1.1.1"):
    return client.post(LOGIN, {"username": username, "password": password},
                       REMOTE_ADDR=address)


# --- login throttling ----------------------------------------------------------------


def test_repeated_failures_lock_the_account_even_for_the_right_password(client, user, caplog):
    answers = [log_in(client, "manager", "wrong").status_code
               for _ in range(settings.AXES_FAILURE_LIMIT)]
    # The failure that reaches the limit is answered with the lockout page already.
    assert answers == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    locked = log_in(client, "manager", PASSWORD, address="10.9.9.9")
    assert locked.status_code == 429
    assert 'data-testid="locked-out"' in locked.content.decode()
    assert "_auth_user_id" not in client.session
    lockouts = [r.getMessage() for r in caplog.records if "Locking out" in r.getMessage()]
    assert lockouts and 'ip_address: "10.1.1.1"' in lockouts[0]


def test_axes_logs_no_name_typed_at_login(client, user, caplog):
    """Every login and failure was logged with the name typed ({username: "..."}): a
    password typed into the name field landed in the log. The admin's records keep it."""
    typed = "Hunter2-typed-as-a-name"
    with caplog.at_level(logging.DEBUG, logger="axes"):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            log_in(client, typed, "wrong")
        log_in(client, "manager", PASSWORD, address="10.4.4.4")
    axes_lines = [r.getMessage() for r in caplog.records if r.name.startswith("axes")]
    assert any("Locking out" in line for line in axes_lines)
    assert any("Successful login" in line for line in axes_lines)
    assert not [line for line in axes_lines if typed in line or '"manager"' in line]
    assert AccessAttempt.objects.filter(username=typed).exists()


def test_repeated_failures_lock_the_address_for_every_account(client, user):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, f"guess{attempt}", "wrong", address="10.2.2.2")
    assert log_in(client, "manager", PASSWORD, address="10.2.2.2").status_code == 429
    # Another address may still log in to the account.
    assert log_in(client, "manager", PASSWORD, address="10.3.3.3").status_code == 302


@pytest.mark.parametrize("page", ["password_change", "admin:password_change"])
def test_wrong_old_passwords_lock_the_login_and_the_right_one_then_changes_nothing(client,
                                                                                   user, page):
    """A session left open was enough to guess the old password without end, and then set
    one's own."""
    user.is_staff = True  # who may open the admin's page
    user.save()
    other = Client()  # the owner's session elsewhere
    other.force_login(user)
    client.force_login(user)
    new = "Another-long-password-42"
    form = {"old_password": "Guessed-password-1", "new_password1": new, "new_password2": new}
    answers = [client.post(reverse(page), form, REMOTE_ADDR="10.2.2.2")
               for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert "old password was entered incorrectly" in answers[0].content.decode()
    assert [answer.status_code for answer in answers] == (
        [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429])
    assert "_auth_user_id" not in client.session
    refused = other.post(reverse(page), dict(form, old_password=PASSWORD))
    assert refused.status_code == 429 and "_auth_user_id" not in other.session
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert log_in(client, "manager", PASSWORD).status_code == 429
    kept = AccessAttempt.objects.get(ip_address="10.2.2.2").post_data
    assert "Guessed-password-1" not in kept and new not in kept


# The forms asking a logged-in user for their password or a code.
ASKING_FORMS = ["password_change", "twofactor:remove", "twofactor:recovery_codes_new"]
NEW_PASSWORD = "Another-long-password-42"


def right_and_wrong_answers(page: str, device) -> tuple[dict, dict]:
    """What `page` is sent with the right password or code (the app's next), and with a
    wrong one."""
    return {
        "password_change": ({"old_password": PASSWORD, "new_password1": NEW_PASSWORD,
                             "new_password2": NEW_PASSWORD}, {"old_password": "typo"}),
        "twofactor:remove": ({"code": code_at(device, 1)}, {"code": "12345678"}),
        "twofactor:recovery_codes_new": ({"renew-code": code_at(device, 1)},
                                         {"renew-code": "12345678"}),
    }[page]


@pytest.mark.parametrize("page", ASKING_FORMS)
def test_a_colleague_s_typos_from_the_same_address_log_no_one_else_out(client, user, page):
    """A colleague's wrong passwords at the next desk locked the office's address, and whoever
    then gave their own password or code there, right or wrong, was logged out."""
    device, _codes = enrolled(user)
    log_in(client, "manager", PASSWORD, address="10.9.9.9")
    client.post(reverse("twofactor:code"), {"code": code_at(device)}, REMOTE_ADDR="10.9.9.9")
    make_user("colleague")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(Client(), "colleague", "typo", address="10.9.9.9")
    right, wrong = right_and_wrong_answers(page, device)
    refused = client.post(reverse(page), wrong, REMOTE_ADDR="10.9.9.9")
    assert refused.status_code == 200 and "_auth_user_id" in client.session
    done = client.post(reverse(page), right, REMOTE_ADDR="10.9.9.9")
    assert done.status_code == 302 and "_auth_user_id" in client.session
    # The address stays locked at the login, for every account.
    assert log_in(Client(), "manager", PASSWORD, address="10.9.9.9").status_code == 429


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("page", ASKING_FORMS)
def test_wrong_answers_sent_at_once_from_a_session_left_open_get_no_more_checks_than_the_limit(
        page):
    """Each passed the lockout before any was counted: 12 wrong passwords or codes sent at
    once were all checked (and counted) against a limit of 5, and guessing went on."""
    user = make_user("manager")
    device, codes = enrolled(user)
    left_open, owner = Client(), Client()  # the owner's session elsewhere: a recovery code
    for session, code in [(left_open, code_at(device)), (owner, codes[0])]:
        log_in(session, "manager", PASSWORD)
        session.post(reverse("twofactor:code"), {"code": code}, REMOTE_ADDR="10.1.1.1")
    right, wrong = right_and_wrong_answers(page, device)
    statuses = posted_at_once(left_open, reverse(page), [wrong] * 12)
    checked = AccessAttempt.objects.aggregate(wrong=Sum("failures_since_start"))["wrong"]
    assert checked == settings.AXES_FAILURE_LIMIT
    # The rest met the lockout page, or, once it had logged the session out, the login.
    assert statuses.count(200) == settings.AXES_FAILURE_LIMIT - 1
    assert set(statuses) <= {200, 302, 429}
    # Locked out: not even the right answer does it.
    assert owner.post(reverse(page), right).status_code == 429
    assert "_auth_user_id" not in owner.session
    user.refresh_from_db()
    assert user.check_password(PASSWORD) and TOTPDevice.objects.filter(user=user).exists()
    assert StaticToken.objects.filter(device__user=user).count() == len(codes) - 1


def test_the_lock_ends_after_the_cool_off_time(client, user):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "manager", "wrong")
    assert log_in(client, "manager", PASSWORD).status_code == 429
    past = timezone.now() - settings.AXES_COOLOFF_TIME - datetime.timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=past)
    assert log_in(client, "manager", PASSWORD).status_code == 302


def test_fewer_failures_than_the_limit_do_not_lock(client, user):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "manager", "wrong")
    assert log_in(client, "manager", PASSWORD).status_code == 302


def test_a_login_clears_its_own_account_s_failures(client, user):
    for _round in range(2):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            log_in(client, "manager", "wrong")
        assert log_in(client, "manager", PASSWORD).status_code == 302
        client.logout()


@pytest.mark.parametrize("login", [LOGIN, "/admin/login/"])
def test_a_name_longer_than_the_lockout_table_holds_is_counted_not_an_error(client, db,
                                                                            login):
    """PostgreSQL refuses to store more than 255 characters (SQLite stores anything)."""
    typed = "ą" * 300
    for _ in range(settings.AXES_FAILURE_LIMIT):
        answer = client.post(login, {"username": typed, "password": "wrong"})
        assert answer.status_code in (200, 429)
    assert AccessAttempt.objects.get().username == typed[:255]
    assert answer.status_code == 429


def test_the_admin_login_is_throttled_too(client, db):
    make_user("boss", is_staff=True, is_superuser=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": "boss", "password": "wrong"})
    answer = client.post("/admin/login/", {"username": "boss", "password": PASSWORD})
    assert answer.status_code == 429


@pytest.mark.parametrize("proxies, forwarded, expected", [
    (0, "6.6.6.6", "10.0.0.5"),
    (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),
    (2, "6.6.6.6, 203.0.113.7, 10.0.0.9", "203.0.113.7"),
    (1, "", "10.0.0.5"),
])
def test_the_client_address_comes_only_from_trusted_proxies(rf, settings, proxies, forwarded,
                                                           expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = rf.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


# --- sessions and cookies ------------------------------------------------------------


def stored_expiry(client) -> datetime.datetime:
    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_a_request_renews_a_session_due_for_renewal(logged_in):
    # force_login saved the session without a renewal time: its renewal is due.
    Session.objects.update(expire_date=timezone.now() + datetime.timedelta(seconds=5))
    response = logged_in.get(reverse("campaigns:list"))
    assert response.cookies["sessionid"]["max-age"] == settings.SESSION_COOKIE_AGE
    remaining = stored_expiry(logged_in) - timezone.now()
    assert remaining > datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE - 5)


def test_requests_soon_after_a_renewal_write_no_session(logged_in):
    logged_in.get(reverse("campaigns:list"))
    renewed = stored_expiry(logged_in)
    with CaptureQueriesContext(connection) as queries:
        response = logged_in.get(reverse("campaigns:list"))
    assert "sessionid" not in response.cookies
    assert stored_expiry(logged_in) == renewed
    assert not [q for q in queries if "django_session" in q["sql"]
                and not q["sql"].startswith("SELECT")]


def test_a_session_is_renewed_again_once_a_minute_has_passed(logged_in):
    logged_in.get(reverse("campaigns:list"))
    session = logged_in.session
    session[RENEWED_AT] -= renew_after()
    session.save()
    Session.objects.update(expire_date=timezone.now() + datetime.timedelta(seconds=5))
    response = logged_in.get(reverse("campaigns:list"))
    assert response.cookies["sessionid"]["max-age"] == settings.SESSION_COOKIE_AGE
    assert stored_expiry(logged_in) - timezone.now() > datetime.timedelta(seconds=60)


def test_a_session_idle_too_long_must_log_in_again(logged_in):
    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    response = logged_in.get(reverse("campaigns:list"))
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


@pytest.mark.parametrize("second_factor", [False, True], ids=["password", "with a code step"])
@pytest.mark.parametrize("engine", SESSION_ENGINES_IN_CACHE)
def test_a_login_while_the_cache_keeping_sessions_is_down_is_told_logins_cannot_be_kept(
        client, user, cache_down, settings, engine, second_factor):
    """With sessions in Redis and Redis down every login answered 500: a login's new
    session failed, or the code step's session when it was saved after the page."""
    if second_factor:
        enrolled(user)
    settings.SESSION_ENGINE = engine
    assert client.get(LOGIN).status_code == 200
    response = log_in(client, user.username, PASSWORD)
    assert response.status_code == 503
    assert "cannot keep logins" in response.content.decode()
    assert PASSWORD not in response.content.decode()


COOKIE_FLAGS = [f"{cookie}_COOKIE_{flag}" for cookie in ("SESSION", "CSRF", "LANGUAGE")
                for flag in ("SECURE", "HTTPONLY", "SAMESITE")]


def cookie_settings(**environment: str) -> dict:
    """The cookie flags portal/settings.py gives in a process of its own (not the test
    settings, which turn Secure off for the test client's plain HTTP)."""
    code = ("import json, django; from django.conf import settings as s; django.setup(); "
            f"print(json.dumps({{name: getattr(s, name) for name in {COOKIE_FLAGS!r}}}))")
    result = subprocess.run(
        [sys.executable, "-c", code], env=production_env(**environment),
        cwd=Path(__file__).parent.parent, capture_output=True, text=True, check=True,
    )
    return json.loads(result.stdout)


def test_cookies_are_secure_http_only_and_same_site_in_production(client, user):
    production = cookie_settings()
    assert production == {name: "Lax" if name.endswith("SAMESITE") else True
                          for name in COOKIE_FLAGS}
    # The cookies the portal sets carry those flags.
    with override_settings(**production):
        client.get(LOGIN)
        response = log_in(client, "manager", PASSWORD)
        for name in ("sessionid", "csrftoken"):
            cookie = response.cookies[name]
            assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax", name
        chosen = client.post(reverse("set_language"), {"language": "pl"})
        language = chosen.cookies["django_language"]
        assert language["secure"] and language["httponly"] and language["samesite"] == "Lax"


def test_a_developer_machine_gets_cookies_over_plain_http():
    """DEBUG=true: http://localhost has no TLS, so Secure cookies would never come back."""
    developer = cookie_settings(DEBUG="true")
    secure = [developer[f"{cookie}_COOKIE_SECURE"] for cookie in ("SESSION", "CSRF", "LANGUAGE")]
    assert secure == [False, False, False]
    assert developer["SESSION_COOKIE_HTTPONLY"] is True


# --- CSRF, CSP, framing: checked on every page -----------------------------------------


class _PageParts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.post_forms, self.inline_scripts, self.inline_styles, self.handlers = [], 0, 0, []
        self._form = None
        self.empty_headers, self._header = 0, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("method", "").lower() == "post":
            self._form = {"action": attrs.get("action"), "csrf": False}
            self.post_forms.append(self._form)
        if tag == "input" and attrs.get("name") == "csrfmiddlewaretoken" and self._form:
            self._form["csrf"] = True
        if tag == "script" and not attrs.get("src"):
            self.inline_scripts += 1
        if tag == "style" or "style" in attrs:
            self.inline_styles += 1
        self.handlers += [name for name in attrs if name.startswith("on")]
        if tag == "th":
            self._header = ""

    def handle_data(self, data):
        if self._header is not None:
            self._header += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        if tag == "th":
            self.empty_headers += not self._header.strip()
            self._header = None


@pytest.fixture
def every_page(campaigns, settings):
    """The URL of every kind of page, with something on it to show."""
    settings.FOUR_EYES = True
    campaign = campaigns["00001"]
    boss = make_user("boss", is_staff=True, is_superuser=True)
    change = campaign_update(campaign=campaign, changes={"order": 3}, actor=boss)
    addition = record_add(campaign=campaign, payload={"phone_number": "225556677"}, actor=boss)
    request = change_request_create(campaign=campaign, changes={"active": True},
                                    actor=make_user("asker"), reason="go", risks=["activation"])
    pages = [
        reverse("campaigns:list"), campaign.get_absolute_url(),
        reverse("campaigns:edit", args=["00001"]), reverse("records:new", args=["00001"]),
        change.get_absolute_url(), addition.get_absolute_url(), reverse("campaigns:requests"),
        request.get_absolute_url(), reverse("password_change"), reverse("donotcall:list"),
        "/admin/", "/admin/campaigns/campaign/", f"/admin/campaigns/campaign/{campaign.pk}/change/",
        "/admin/auth/user/add/", "/admin/campaigns/changerequest/",
    ]
    return boss, pages


def test_every_page_has_csrf_on_its_forms_and_no_inline_script_or_style(client, every_page):
    boss, pages = every_page
    anonymous = Client().get(LOGIN)
    client.force_login(boss)
    forms = 0
    for url in pages + [None]:
        response = anonymous if url is None else client.get(url)
        assert response.status_code == 200, url
        parts = _PageParts()
        parts.feed(response.content.decode())
        assert all(form["csrf"] for form in parts.post_forms), url
        assert (parts.inline_scripts, parts.inline_styles, parts.handlers) == (0, 0, []), url
        forms += len(parts.post_forms)
    assert forms > len(pages)


def test_every_column_of_the_portals_tables_is_named_for_screen_readers(client, every_page):
    """A column of links or arrows has its name, if only for screen readers (Django's own
    admin pages are left as Django writes them)."""
    boss, pages = every_page
    client.force_login(boss)
    for url in [url for url in pages if not url.startswith("/admin/")]:
        parts = _PageParts()
        parts.feed(client.get(url).content.decode())
        assert parts.empty_headers == 0, url


def test_every_page_sends_a_strict_policy_and_refuses_framing(client, every_page):
    boss, pages = every_page
    client.force_login(boss)
    for url in pages + [LOGIN, "/no-such-page/"]:
        response = client.get(url)
        policy = dict(
            part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
        )
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'", url
        assert policy["default-src"] == "'self'" and policy["frame-ancestors"] == "'none'", url
        assert "unsafe" not in response["Content-Security-Policy"], url
        assert response["X-Frame-Options"] == "DENY", url


def test_a_form_posted_without_the_csrf_token_is_refused(campaigns, user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(reverse("campaigns:edit", args=["00001"]), {"name": "Hijacked"})
    assert response.status_code == 403
    login = Client(enforce_csrf_checks=True).post(
        LOGIN, {"username": "manager", "password": PASSWORD}
    )
    assert login.status_code == 403
