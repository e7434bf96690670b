"""A form posted after its session had ended comes back filled, unsent, after the login
(portal/kept_input.py); its browser test is tests/test_browser_kept_input.py."""

import json
import re
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from audit.erasure import forget_number, number_held
from audit.models import Entry
from campaigns.four_eyes import change_request_create
from campaigns.risk import Risk
from portal.kept_input import (
    ACCOUNT_COOKIE,
    KEPT,
    KEPT_BYTES_MOST,
    KEPT_FIELDS_MOST,
    kept_input_key,
)
from tests.conftest import COMPLIANCE, EDITORS, LOADERS, PASSWORD, api_calls, make_user
from tests.import_files import csv_bytes
from tests.test_campaign_form import form_values
from tests.test_twofactor import code_at, enrolled, give_code

KEPT_NOTE = "Your session had ended, so the form was not sent."
FILE_NOTE = "Choose the file again: a file cannot be kept."


def post_after_the_session_ended(client, page: str, action: str, data: dict):
    """Post `data` to `action` from `page`, as its form does once the session has ended."""
    Session.objects.all().delete()
    return client.post(action, data, HTTP_REFERER=f"http://testserver{page}")


def log_in_again(client, username: str, page: str):
    """The login the post was answered with, back to `page`: the page it leads to."""
    return client.post(f"{reverse('login')}?next={quote(page)}",
                       {"username": username, "password": PASSWORD, "next": page},
                       follow=True)


def kept_on(response) -> dict | None:
    """What the page gives back to its form (the address it was posted to, its fields)."""
    found = re.search(r'<script id="kept-input" type="application/json">(.*?)</script>',
                      response.content.decode())
    return json.loads(found.group(1)) if found else None


def sent_anything(thulium) -> bool:
    return any(call["method"] != "GET" for call in api_calls(thulium))


@pytest.fixture(params=["record", "campaign", "do-not-call", "rejection"])
def main_form(request, campaigns, settings) -> tuple[User, str, str, dict]:
    """A main form's user, page, address it posts to, and what its user typed."""
    if request.param == "record":
        page = reverse("records:new", args=["00001"])
        return make_user("loader", LOADERS), page, page, {
            "phone_number": "601 234 567", "identifier": "K-17"}
    if request.param == "campaign":
        page = reverse("campaigns:edit", args=["00001"])
        return make_user("editor", EDITORS), page, page, {
            "name": "Zima 2027", "reason": "Nowy sezon"}
    if request.param == "do-not-call":
        return make_user("officer", COMPLIANCE), reverse("donotcall:list"), reverse(
            "donotcall:add"), {"phone_number": "601 234 567", "note": "Prosił przez telefon"}
    settings.FOUR_EYES = True
    asked = change_request_create(campaign=campaigns["00001"], changes={"active": True},
                                  actor=make_user("asker", EDITORS), reason="go",
                                  risks=[Risk.ACTIVATION])
    return make_user("approver", EDITORS), asked.get_absolute_url(), reverse(
        "campaigns:request_reject", args=[asked.pk]), {"note": "Nie w tym sezonie"}


def test_a_main_form_posted_after_the_session_ended_comes_back_filled_once_after_the_login(
    client, main_form, thulium
):
    user, page, action, typed = main_form
    client.force_login(user)
    opened = client.get(page)
    posted = {**form_values(opened, next(iter(typed))), **typed}
    entries = Entry.objects.count()

    answer = post_after_the_session_ended(client, page, action, posted)
    assert answer["Location"] == f"{reverse('login')}?next={quote(page)}"
    back = log_in_again(client, user.username, page)

    assert back.redirect_chain[-1][0] == page
    assert KEPT_NOTE in back.content.decode() and FILE_NOTE not in back.content.decode()
    kept = kept_on(back)
    assert kept == {"action": action, "fields": {name: [value] for name, value in posted.items()}}
    # The page's form posted there has each field kept, for the page's script to fill.
    html = back.content.decode()
    assert action == page or f'action="{action}"' in html
    assert set(kept["fields"]) <= set(form_values(back, next(iter(typed))))
    # Nothing was done: the user checks the form and sends it again.
    assert Entry.objects.count() == entries and not sent_anything(thulium)
    assert kept_on(client.get(page)) is None  # shown once


def test_a_password_code_secret_or_token_typed_in_a_form_is_never_kept(client, user,
                                                                       campaigns):
    page = reverse("records:new", args=["00001"])
    client.force_login(user)
    client.get(page)
    secrets = {"password": "pw-typed-1", "new_password1": "pw-typed-2", "code": "918273",
               "csrfmiddlewaretoken": "t" * 64, "client_secret": "s-typed", "api_key": "k-typed"}

    post_after_the_session_ended(client, page, page, {"phone_number": "601234567", **secrets})

    stored = cache.get(kept_input_key(client.session[KEPT]))
    assert stored["form"]["fields"] == {"phone_number": ["601234567"]}
    back = log_in_again(client, user.username, page).content.decode()
    assert "601234567" in back
    assert not [typed for typed in secrets.values() if typed in back]


def test_a_login_by_another_account_than_the_ended_session_s_drops_what_was_typed(
    client, user, campaigns
):
    page = reverse("records:new", args=["00001"])
    client.force_login(user)
    client.get(page)  # the browser now names the account logged in with it
    post_after_the_session_ended(client, page, page, {"phone_number": "601234567"})
    token = client.session[KEPT]

    colleague = make_user("colleague", LOADERS)
    back = log_in_again(client, colleague.username, page)

    assert back.redirect_chain[-1][0] == page
    assert "601234567" not in back.content.decode() and kept_on(back) is None
    assert cache.get(kept_input_key(token)) is None


def test_after_a_browser_restart_a_colleague_logging_in_gets_nothing_of_what_was_typed(
    client, user, campaigns
):
    """A shared computer: the session ended and the browser was closed and opened again (its
    cookie naming the account is gone, the session's lasting one is not)."""
    page = reverse("records:new", args=["00001"])
    client.force_login(user)
    client.get(page)
    del client.cookies[ACCOUNT_COOKIE]

    post_after_the_session_ended(client, page, page, {"phone_number": "601234567"})
    assert KEPT not in client.session
    back = log_in_again(client, make_user("colleague", LOADERS).username, page)

    assert "601234567" not in back.content.decode() and kept_on(back) is None


def test_a_form_kept_naming_no_account_is_dropped_at_any_login(client, user, campaigns):
    """As the portal kept one before it asked for the cookie naming the account: whoever
    logs in cannot be told from a colleague."""
    page = reverse("records:new", args=["00001"])
    session = client.session
    session[KEPT] = "kept-before"
    session.save()
    cache.add(kept_input_key("kept-before"), {
        "page": page, "account": None, "file": False,
        "form": {"action": page, "fields": {"phone_number": ["601234567"]}}})

    back = log_in_again(client, user.username, page)

    assert kept_on(back) is None and cache.get(kept_input_key("kept-before")) is None


@pytest.mark.parametrize("cookie", [None, "0" * 40, "0" * 40 + ":made-up-signature"])
def test_a_post_from_a_browser_no_one_logged_in_with_keeps_nothing(client, campaigns, cookie):
    """Any visitor with a CSRF cookie could have each post (up to 2.5 MB) held ten minutes."""
    if cookie:
        client.cookies[ACCOUNT_COOKIE] = cookie
    page = reverse("records:new", args=["00001"])

    answer = client.post(page, {"phone_number": "601234567", "note": "x" * 60_000})

    assert answer["Location"].startswith(reverse("login"))
    assert not Session.objects.exists()  # nothing to reach a kept form by


@pytest.mark.parametrize("typed", [
    {"note": "x" * KEPT_BYTES_MOST},
    {f"record_fields.pole{n}": "x" for n in range(KEPT_FIELDS_MOST + 1)},
], ids=["bytes", "fields"])
def test_a_post_larger_than_any_form_of_the_portal_s_keeps_nothing(client, user, campaigns,
                                                                   typed):
    page = reverse("records:new", args=["00001"])
    client.force_login(user)
    client.get(page)

    post_after_the_session_ended(client, page, page, typed)

    assert not Session.objects.exists()


def test_a_second_post_from_the_same_session_replaces_what_the_first_kept(client, user,
                                                                          campaigns):
    page = reverse("records:new", args=["00001"])
    client.force_login(user)
    client.get(page)
    post_after_the_session_ended(client, page, page, {"phone_number": "601234567"})
    first = client.session[KEPT]

    client.post(page, {"phone_number": "601234568"}, HTTP_REFERER=f"http://testserver{page}")

    assert cache.get(kept_input_key(first)) is None
    assert cache.get(kept_input_key(client.session[KEPT]))["form"]["fields"] == {
        "phone_number": ["601234568"]}


def test_an_erasure_of_a_number_drops_every_form_kept_with_it_and_no_other(client, user,
                                                                           campaigns):
    """A form kept while its browser logs in again is kept out of the database, where an
    erasure looks: it finds it in the cache, however the number was typed."""
    page = reverse("records:new", args=["00001"])
    searched = reverse("donotcall:list") + "?q=%2B48+601+234+567"
    kept = {}
    for name, user_groups, at, typed in [
        ("first", LOADERS, page, {"phone_number": "601 234 567"}),
        ("second", LOADERS, page, {"phone_number": "602000001",
                                   "record_fields.komorka": "+48 601-234-567"}),
        ("third", COMPLIANCE, searched, {"phone_number": "602000003"}),
        ("other", LOADERS, page, {"phone_number": "602000002"}),
    ]:
        browser = Client()
        browser.force_login(make_user(name, user_groups))
        browser.get(at)
        action = page if at == page else reverse("donotcall:add")
        post_after_the_session_ended(browser, at, action, typed)
        kept[name] = (browser, browser.session[KEPT], at)
    assert number_held("601234567")["kept_forms"] == 3

    report = forget_number(number="+48 601 234 567", reference="RODO/2026/17")

    assert report.counts["kept_forms"] == 3
    for name in ("first", "second", "third"):
        browser, token, at = kept[name]
        assert cache.get(kept_input_key(token)) is None
        back = log_in_again(browser, name, at)
        assert kept_on(back) is None
        assert "601 234 567" not in back.content.decode()
        assert "+48 601-234-567" not in back.content.decode()
    browser, _token, _at = kept["other"]
    assert kept_on(log_in_again(browser, "other", page))["fields"]["phone_number"] == [
        "602000002"]
    assert number_held("601234567")["kept_forms"] == 0


def test_a_form_with_a_file_comes_back_asking_for_the_file_again(client, campaigns):
    page = reverse("donotcall:upload")
    client.force_login(make_user("officer", COMPLIANCE))
    client.get(page)

    post_after_the_session_ended(client, page, page, {
        "file": SimpleUploadedFile("lista.csv", csv_bytes([["601000001"]], header=["Telefon"])),
        "campaign": "", "reason": "complaint", "note": "pismo z 3 grudnia"})
    back = log_in_again(client, "officer", page)

    assert KEPT_NOTE in back.content.decode() and FILE_NOTE in back.content.decode()
    assert kept_on(back)["fields"] == {"campaign": [""], "reason": ["complaint"],
                                       "note": ["pismo z 3 grudnia"]}


def test_a_form_comes_back_after_the_login_s_second_factor_step(client, user, campaigns):
    page = reverse("records:new", args=["00001"])
    client.force_login(user)
    client.get(page)
    device, _codes = enrolled(user)
    post_after_the_session_ended(client, page, page, {"phone_number": "601234567"})

    log_in_again(client, user.username, page)
    back = client.get(give_code(client, code_at(device))["Location"])

    assert back.request["PATH_INFO"] == page
    assert kept_on(back)["fields"] == {"phone_number": ["601234567"]}
