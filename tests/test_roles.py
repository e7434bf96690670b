"""Who may open what: every URL of the portal, walked as anonymous, each role and an admin.

ACCESS is the one table of the answers. A new URL fails
`test_every_url_of_the_portal_is_in_the_table` until it has a row; a new role is a new
column (and a user in USERS).
"""

import csv
import datetime
import io
import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.test import Client, override_settings
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone

from audit.models import Entry
from campaigns.entries import CHANGE_REQUEST
from campaigns.four_eyes import change_request_approve, change_request_create
from campaigns.models import Campaign
from campaigns.reading import campaigns_sync
from campaigns.scheduling import change_schedule
from campaigns.services import campaign_update
from donotcall.services import suppression_add
from imports.models import ImportTemplate
from imports.previewing import import_preview
from imports.reading import detect_layout
from imports.services import import_upload
from records.services import record_add
from roles.backends import RoleBackend
from tests.conftest import ADMINISTRATORS, AUDITORS, EDITORS, LOADERS, TEST_TIMEOUT, make_user
from twofactor import admin as twofactor_admin

LOGIN, DENIED, OK = "login", "403", "ok"

ROLES = ("anonymous", "member", "editor", "loader", "admin", "auditor", "requester")
# A row is a url name, or a url name and which of its objects (see portal_objects).
# req.: the requester, who made the change request and every entry.
# url name                          method  anon.   member  editor  loader  admin   auditor req.
ACCESS = [
    ("home",                        "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("login",                       "GET",  OK,     OK,     OK,     OK,     OK,     OK,     OK),
    ("logout",                      "POST", LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("password_change",             "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("password_change_done",        "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("set_language",                "POST", OK,     OK,     OK,     OK,     OK,     OK,     OK),
    # Two-factor login: the code step sends back to log in when no login waits for a code.
    ("twofactor:code",              "GET",  OK,     OK,     OK,     OK,     OK,     OK,     OK),
    ("twofactor:manage",            "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("twofactor:enrol",             "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("twofactor:recovery_codes",    "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("twofactor:recovery_codes_new", "POST", LOGIN, OK,     OK,     OK,     OK,     OK,     OK),
    ("notices:settings",            "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("twofactor:remove",            "POST", LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("campaigns:list",              "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("campaigns:sync",              "POST", LOGIN,  DENIED, OK,     DENIED, OK,     DENIED, OK),
    ("campaigns:detail",            "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("campaigns:edit",              "GET",  LOGIN,  DENIED, OK,     DENIED, OK,     DENIED, OK),
    ("campaigns:revert",            "GET",  LOGIN,  DENIED, OK,     DENIED, OK,     DENIED, OK),
    ("campaigns:bulk",              "GET",  LOGIN,  DENIED, OK,     DENIED, OK,     DENIED, OK),
    ("campaigns:bulk_confirm",      "POST", LOGIN,  DENIED, OK,     DENIED, OK,     DENIED, OK),
    ("campaigns:requests",          "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("campaigns:request",           "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("campaigns:request_approve",   "POST", LOGIN,  DENIED, OK,     DENIED, DENIED, DENIED, DENIED),
    ("campaigns:request_reject",    "POST", LOGIN,  DENIED, OK,     DENIED, DENIED, DENIED, DENIED),
    ("campaigns:scheduled",         "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("campaigns:scheduled_change",  "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("campaigns:scheduled_cancel",  "POST", LOGIN,  DENIED, OK,     DENIED, OK,     DENIED, OK),
    ("records:new",                 "GET",  LOGIN,  DENIED, DENIED, OK,     DENIED, DENIED, DENIED),
    ("records:refresh_choices",     "POST", LOGIN,  DENIED, DENIED, OK,     DENIED, DENIED, DENIED),
    # Checking in Thulium an addition (the requester's, who adds no records): only someone
    # who adds records and may open the entry.
    ("records:check",               "POST", LOGIN,  DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
    # Everyone has a timeline and its exports, of their own actions unless an auditor.
    ("audit:timeline",              "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("audit:export_csv",            "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("audit:export_jsonl",          "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    # Erasing a person's number: administrators only.
    ("audit:forget",                "GET",  LOGIN,  DENIED, DENIED, DENIED, OK,     DENIED, DENIED),
    # The requester's entries, of every kind: only they and auditors open them.
    ("audit:entry campaign-change", "GET",  LOGIN,  DENIED, DENIED, DENIED, DENIED, OK,     OK),
    ("audit:entry record-addition", "GET",  LOGIN,  DENIED, DENIED, DENIED, DENIED, OK,     OK),
    ("audit:entry change-request",  "GET",  LOGIN,  DENIED, DENIED, DENIED, DENIED, OK,     OK),
    ("audit:entry scheduled-change", "GET", LOGIN,  DENIED, DENIED, DENIED, DENIED, OK,     OK),
    # Loaders upload; an import (the requester's) is opened by its creator and auditors only,
    # and acted on only by a creator who may add records.
    # Each sees the imports they may read (see test_import_list).
    ("imports:list",                "GET",  LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    ("imports:upload",              "GET",  LOGIN,  DENIED, DENIED, OK,     DENIED, DENIED, DENIED),
    ("imports:detail",              "GET",  LOGIN,  DENIED, DENIED, DENIED, DENIED, OK,     OK),
    ("imports:mapping",             "GET",  LOGIN,  DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
    ("imports:read_options",        "POST", LOGIN,  DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
    ("imports:sheet",               "POST", LOGIN,  DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
    ("imports:template_delete",     "POST", LOGIN,  DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
    ("imports:rows_to_fix",         "GET",  LOGIN,  DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
    ("imports:stop_check",          "POST", LOGIN,  DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
    ("imports:confirm",             "POST", LOGIN,  DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
    ("imports:cancel",              "POST", LOGIN,  DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
    ("imports:progress",            "GET",  LOGIN,  DENIED, DENIED, DENIED, DENIED, OK,     OK),
    ("imports:report",              "GET",  LOGIN,  DENIED, DENIED, DENIED, DENIED, OK,     OK),
    # The do-not-call list: compliance officers (tests/test_donotcall_page.py) and staff.
    ("donotcall:list",              "GET",  LOGIN,  DENIED, DENIED, DENIED, OK,     DENIED, DENIED),
    ("donotcall:add",               "POST", LOGIN,  DENIED, DENIED, DENIED, OK,     DENIED, DENIED),
    ("donotcall:upload",            "GET",  LOGIN,  DENIED, DENIED, DENIED, OK,     DENIED, DENIED),
    ("donotcall:export",            "GET",  LOGIN,  DENIED, DENIED, DENIED, OK,     DENIED, DENIED),
    ("donotcall:remove",            "GET",  LOGIN,  DENIED, DENIED, DENIED, OK,     DENIED, DENIED),
    # An opt-out from the requester's entry: only one who may opt out and open the entry.
    ("donotcall:opt_out",           "POST", LOGIN,  DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
    # Single sign-on: open to anyone, and not there (404) while OIDC_ISSUER is unset, as
    # here (with a provider: tests/test_sso.py).
    ("sso:start",                   "GET",  "404",  "404",  "404",  "404",  "404",  "404",  "404"),
    ("sso:callback",                "GET",  "404",  "404",  "404",  "404",  "404",  "404",  "404"),
    # The admin: its login page for the anonymous, refused to anyone else but staff.
    ("admin:index",                 "GET",  LOGIN,  DENIED, DENIED, DENIED, OK,     DENIED, DENIED),
    # The admin's own password page too (everyone else changes theirs at password_change).
    ("admin:password_change",       "GET",  LOGIN,  DENIED, DENIED, DENIED, OK,     DENIED, DENIED),
    ("admin:auth_user_changelist",  "GET",  LOGIN,  DENIED, DENIED, DENIED, OK,     DENIED, DENIED),
    ("admin:campaigns_campaign_changelist", "GET",
     LOGIN, DENIED, DENIED, DENIED, OK, DENIED, DENIED),
    # Everyone's entries in full: for auditors only (an administrator is not one).
    ("admin:audit_entry_changelist", "GET",
     LOGIN, DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
    ("admin:campaigns_changerequest_changelist", "GET",
     LOGIN, DENIED, DENIED, DENIED, OK, DENIED, DENIED),
    ("admin:axes_accessattempt_changelist", "GET",
     LOGIN, DENIED, DENIED, DENIED, OK, DENIED, DENIED),
]
# Roles as groups of roles/migrations/0002_groups_of_the_one_log.py (Auditors: audit 0003);
# the admin is staff, not superuser.
USERS = {
    "member": {"groups": ()},
    "editor": {"groups": (EDITORS,)},
    "loader": {"groups": (LOADERS,)},
    "admin": {"groups": (ADMINISTRATORS,), "is_staff": True},
    "auditor": {"groups": (AUDITORS,)},
}
# What the POSTs of the table send.
POST_DATA = {"set_language": {"language": "pl"}, "campaigns:request_reject": {"note": ""},
             "campaigns:scheduled_cancel": {"reason": "not needed"},
             "donotcall:add": {"phone_number": "601777777", "reason": "other"}}


@pytest.fixture(scope="class")
def made_once(django_db_setup, django_db_blocker, sandbox):
    """One of each thing, made once for a class of tests (as TestCase.setUpTestData does):
    in a transaction rolled back after the class, each test's own rolled back within it.
    Gives the URL arguments, each role's session and what Thulium then held."""
    with django_db_blocker.unblock(), transaction.atomic():
        sandbox.state.reset()
        cache.clear()
        with override_settings(THULIUM_API_URL=sandbox.url, THULIUM_API_USER=sandbox.user,
                               THULIUM_API_PASSWORD=sandbox.password,
                               THULIUM_TIMEOUT=TEST_TIMEOUT,
                               THULIUM_CONNECT_TIMEOUT=TEST_TIMEOUT):
            campaigns_sync()
            sandbox.state.reset()
            requester = make_user("requester", EDITORS)
            objects = portal_objects_made(requester)
            users = {"requester": requester, **{
                role: make_user(role, *spec["groups"], is_staff=spec.get("is_staff", False))
                for role, spec in USERS.items()}}
            sessions = {role: session_logged_in(user) for role, user in users.items()}
        yield objects, sessions, sandbox.state.data_saved()
        transaction.set_rollback(True)


def session_logged_in(user) -> str:
    """The key of a session logged in as `user`, as the test client logs in."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def portal_objects(made_once, db, thulium):
    """URL arguments for one of each thing, with Thulium holding what their making left."""
    objects, _, thulium_data = made_once
    thulium.state.data_restore(thulium_data)
    return objects


@pytest.fixture
def log_in(made_once, client):
    """Logs the client in as a role, with the session made_once logged in: a test's writes
    to it, a logout's too, are rolled back with the rest of the test's."""
    _, sessions, _ = made_once

    def as_role(role):
        client.cookies[settings.SESSION_COOKIE_NAME] = sessions[role]

    return as_role


def portal_objects_made(requester) -> dict:
    """URL arguments for one of each thing, made through the portal's own services."""
    campaign = Campaign.objects.get(thulium_id="00001")
    change = campaign_update(campaign=campaign, changes={"order": 7}, actor=requester)
    campaign.refresh_from_db()
    addition = record_add(campaign=campaign, payload={"phone_number": "225556677"},
                          actor=requester)
    # Approved by a second editor, whose entry of the change sent is not the requester's.
    approved = change_request_create(
        campaign=campaign, changes={"active": True}, actor=requester, reason="start",
        risks=["activation"],
    )
    change_request_approve(change_request=approved, approver=make_user("approver", EDITORS))
    campaign.refresh_from_db()
    change_request = change_request_create(
        campaign=campaign, changes={"dialer": "predictive"}, actor=requester,
        reason="season", risks=["predictive"],
    )
    requested = Entry.objects.get(kind=CHANGE_REQUEST.slug, details__request=change_request.pk)
    scheduled = change_schedule(campaign=campaign, changes={"order": 9}, actor=requester,
                                reason="", apply_at=timezone.now() + datetime.timedelta(hours=1))
    content = b"Telefon\r\n601000000\r\n"
    job = import_upload(campaign=campaign, actor=requester, file_name="leady.csv",
                        content=content, layout=detect_layout(content, "leady.csv"))
    import_preview(job=job, mapping=job.mapping)
    return {
        "campaigns:detail": [campaign.thulium_id],
        "campaigns:edit": [campaign.thulium_id],
        "campaigns:request": [change_request.pk],
        "campaigns:request approved": [approved.pk],
        "campaigns:request_approve": [change_request.pk],
        "campaigns:request_reject": [change_request.pk],
        "records:new": [campaign.thulium_id],
        "records:refresh_choices": [campaign.thulium_id],
        "records:check": [addition.pk],
        "audit:entry campaign-change": [change.pk],
        "campaigns:revert": [change.pk],
        "audit:entry record-addition": [addition.pk],
        "audit:entry change-request": [requested.pk],
        "audit:entry scheduled-change": [scheduled.scheduled_entry.pk],
        **{name: [scheduled.pk] for name in ("campaigns:scheduled_change",
                                             "campaigns:scheduled_cancel")},
        **{name: [job.pk] for name in ("imports:detail", "imports:mapping", "imports:read_options",
                                       "imports:sheet",
                                       "imports:rows_to_fix", "imports:confirm", "imports:cancel",
                                       "imports:stop_check",
                                       "imports:progress", "imports:report")},
        "imports:upload": [campaign.thulium_id],
        "imports:template_delete": [job.pk, ImportTemplate.objects.create(
            campaign=campaign, name="Leady", mapping={}, saved_by=requester.username).pk],
        "donotcall:remove": [suppression_add(key="48601999999", campaign=None, reason="other",
                                             source="typed", actor=requester).pk],
        "donotcall:opt_out": [addition.pk],
    }


def url_of(row_name: str, portal_objects) -> str:
    """The address a row of the table (or a page of the crawl) stands for."""
    return reverse(row_name.split()[0], args=portal_objects.get(row_name, []))


def role_user(role):
    """The user made_once made for a role."""
    return User.objects.get(username=role)


def answer_kind(response) -> str:
    if response.status_code == 403:
        return DENIED
    if response.status_code == 302:
        # Sent to log in, to come back after (a logout's redirect to the login page has no next).
        target = urlsplit(response["Location"])
        to_login = target.path in (reverse("login"), reverse("admin:login"))
        return LOGIN if to_login and "next=" in target.query else OK
    return OK if response.status_code == 200 else str(response.status_code)


def all_url_names(patterns=None, namespace=""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from all_url_names(pattern.url_patterns, inner)
        elif pattern.name:
            yield namespace + pattern.name


@pytest.mark.django_db
def test_readme_names_every_group_the_portal_makes():
    """README's `roles/` row named three groups of five: not Compliance officers (the
    do-not-call list) nor Administrators (erasing a number)."""
    readme = (settings.BASE_DIR / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `roles/` |"))
    assert [name for name in Group.objects.values_list("name", flat=True)
            if name not in row] == []


def test_every_url_of_the_portal_is_in_the_table():
    portal_urls = {name for name in all_url_names() if not name.startswith("admin:")}
    in_table = {row[0].split()[0] for row in ACCESS if not row[0].startswith("admin:")}
    assert portal_urls == in_table


class PageTargets(HTMLParser):
    """The links and POST forms of a page."""

    def __init__(self):
        super().__init__()
        self.links, self.forms = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href", "").startswith("/"):
            self.links.append(attrs["href"])
        elif tag == "form" and attrs.get("method", "").lower() == "post":
            self.forms.append(attrs.get("action") or "")


PAGES = ["campaigns:list", "campaigns:detail", "campaigns:requests", "campaigns:request",
         "campaigns:request approved", "campaigns:edit", "records:new", "audit:timeline",
         "audit:entry campaign-change", "audit:entry record-addition",
         "audit:entry change-request", "campaigns:scheduled", "campaigns:scheduled_change",
         "audit:entry scheduled-change"]


class TestEveryRoleOnEveryPage:
    """The table's tests, sharing the things made_once made."""

    @pytest.mark.parametrize("role", ROLES)
    @pytest.mark.parametrize("row", ACCESS, ids=[row[0] for row in ACCESS])
    def test_each_role_gets_the_answer_the_table_says(self, client, portal_objects, log_in,
                                                      role, row):
        name, method, *expected = row
        if role != "anonymous":
            log_in(role)
        url = url_of(name, portal_objects)
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, POST_DATA.get(name.split()[0], {}))
        assert answer_kind(response) == expected[ROLES.index(role)], (name,
                                                                      response.status_code)

    @pytest.mark.parametrize("role",
                             ["member", "editor", "loader", "admin", "auditor", "requester"])
    def test_no_page_shows_a_role_a_button_that_answers_403(self, client, portal_objects,
                                                             log_in, role):
        user = role_user(role)
        log_in(role)

        def as_user(method, url):
            # Logged in again after the logout, one of the forms.
            if client.session.get(SESSION_KEY) != str(user.pk):
                client.force_login(user)
            return getattr(client, method)(url)

        # Each address once: many a page links the same ones (the menu's, the logout), which
        # answer the same whichever page showed them.
        answers, followed = {}, []
        for page in PAGES:
            page_url = url_of(page, portal_objects)
            response = as_user("get", page_url)
            if response.status_code == 403:
                continue  # a page this role may not open: the crawl checks it is never linked
            targets = PageTargets()
            targets.feed(response.content.decode())
            for method, target in [*(("get", link) for link in targets.links),
                                   *(("post", action or page_url) for action in targets.forms)]:
                if (method, target) not in answers:
                    answers[method, target] = answer_kind(as_user(method, target))
                assert answers[method, target] == OK, (role, page, method, target)
                followed.append(target)
        assert len(followed) > len(PAGES)


    @pytest.mark.parametrize("role", ["requester", "admin", "auditor"])
    def test_no_page_of_the_portal_shows_english_words_in_polish(self, client, portal_objects,
                                                                 log_in, role):
        """Polish call centres read the portal in Polish: a word left in English (a label
        never marked for translation, a message built by an f-string) shows up here."""
        log_in(role)
        english, read = {}, 0
        for name, method, *answers in ACCESS:
            if (method != "GET" or name.startswith(("admin:", "sso:", "audit:export"))
                    or answers[ROLES.index(role)] != OK):
                continue
            url = url_of(name, portal_objects)
            response = client.get(url, HTTP_ACCEPT_LANGUAGE="pl", follow=True)
            if "html" not in response["Content-Type"]:
                continue  # a file (CSV), whose columns are the data's identifiers
            read += 1
            found = set(ENGLISH_WORDS.findall(words_shown(response.content.decode())))
            if found:
                english[url] = sorted(found)
        assert english == {}
        assert read > 20


# Common English words no Polish sentence holds (not "to", "no", "on", "by", "do" or "a").
ENGLISH_WORDS = re.compile(
    r"(?<![\w.-])(the|of|and|with|from|this|that|was|were|has|have|not|for|is|are|added|"
    r"changed|failed|succeeded|unknown|sent|record|campaigns?|entry|user)(?![\w-])",
    re.IGNORECASE)


def words_shown(html: str) -> str:
    """A page's words as a reader meets them: its text, and the titles, placeholders, labels
    for screen readers and image descriptions of its tags; not scripts, styles or code."""
    html = re.sub(r"<(script|style|code|pre)\b.*?</\1>", " ", html, flags=re.S)
    attributes = re.findall(r'\b(?:title|placeholder|aria-label|alt)="([^"]*)"', html)
    return unescape(" ".join([re.sub(r"<[^>]+>", " ", html), *attributes]))


# --- the permission backend -----------------------------------------------------------


def permission_sets(user) -> tuple[set, set]:
    """RoleBackend's permissions of a fresh copy of `user`, and Django's ModelBackend's."""
    fresh = type(user).objects.get(pk=user.pk)
    return (RoleBackend().get_all_permissions(fresh),
            ModelBackend().get_all_permissions(type(user).objects.get(pk=user.pk)))


@pytest.mark.django_db
def test_the_backend_gives_own_and_group_permissions_in_one_query(django_assert_num_queries):
    user = make_user("both", LOADERS)
    user.user_permissions.add(Permission.objects.get(codename="view_audit_trail"))
    ours, djangos = permission_sets(user)
    assert ours == djangos
    assert {"audit.view_audit_trail", "records.add_addedrecord"} <= ours
    fresh = type(user).objects.get(pk=user.pk)
    with django_assert_num_queries(1):
        assert fresh.has_perm("records.add_addedrecord")
        assert not fresh.has_perm("campaigns.change_campaign")


@pytest.mark.django_db
def test_the_backend_gives_a_superuser_everything_and_an_inactive_user_nothing():
    admin = make_user("root", is_superuser=True)
    assert permission_sets(admin)[0] == permission_sets(admin)[1]
    assert len(permission_sets(admin)[0]) == Permission.objects.count()
    inactive = make_user("gone", EDITORS, is_active=False)
    assert permission_sets(inactive) == (set(), set())


# --- the admin's group pages ----------------------------------------------------------


def group_form(name: str, *codenames: str) -> dict:
    """The admin's form of a group as posted: its name and permissions."""
    return {"name": name, "permissions": list(Permission.objects.filter(
        codename__in=codenames).values_list("pk", flat=True))}


@pytest.mark.django_db
def test_every_change_of_a_group_in_the_admin_is_an_audit_entry(client):
    """A permission given to a group changes every member's powers at once, and Django's
    group pages wrote no entry for it, nor for a group created, renamed or deleted."""
    root = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(root)
    client.post(reverse("admin:auth_group_add"), group_form("Supervisors", "change_campaign"))
    group = Group.objects.get(name="Supervisors")
    changed = group_form("Team leads", "view_audit_trail")
    client.post(reverse("admin:auth_group_change", args=[group.pk]), changed)
    client.post(reverse("admin:auth_group_change", args=[group.pk]), changed)  # no change
    client.post(reverse("admin:auth_group_delete", args=[group.pk]), {"post": "yes"})
    client.post(reverse("admin:auth_group_add"), group_form("Night shift"))
    client.post(reverse("admin:auth_group_changelist"), {
        "action": "delete_selected", "post": "yes",
        "_selected_action": [Group.objects.get(name="Night shift").pk]})
    entries = Entry.objects.filter(kind="group").order_by("begin_seq")
    assert [(entry.actor, entry.details) for entry in entries] == [
        (root, {"group": "Supervisors", "step": "created",
                "permissions_gained": ["campaigns.change_campaign"], "members": []}),
        (root, {"group": "Team leads", "step": "changed", "renamed_from": "Supervisors",
                "permissions_gained": ["audit.view_audit_trail"],
                "permissions_lost": ["campaigns.change_campaign"], "members": []}),
        (root, {"group": "Team leads", "step": "deleted",
                "permissions_lost": ["audit.view_audit_trail"], "members": []}),
        (root, {"group": "Night shift", "step": "created", "members": []}),
        (root, {"group": "Night shift", "step": "deleted", "members": []}),
    ]
    page = client.get(entries[1].get_absolute_url()).content.decode()
    assert 'data-testid="renamed-from">Supervisors<' in page
    assert ('data-testid="permissions-gained"><div>Can see everyone&#x27;s actions in the '
            'audit trail <code>audit.view_audit_trail</code></div><') in page
    timeline = client.get(reverse("audit:timeline")).content.decode()
    assert ("group Team leads changed; renamed from Supervisors; gained permission "
            "Can see everyone&#x27;s actions in the audit trail; lost permission "
            "Can change campaign") in timeline
    export = client.get(reverse("audit:export_csv"), {"kind": "group"})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode()
                                           .lstrip("\ufeff")), delimiter=";"))
    assert [(row["step"], row["group"], row["renamed_from"]) for row in rows][2:4] == [
        ("deleted", "Team leads", ""), ("changed", "Team leads", "Supervisors")]


@pytest.mark.django_db
def test_a_group_s_entry_names_whom_the_change_reached(client):
    """A group's permissions are each member's, and its entry did not say who they were."""
    root = make_user("root", is_staff=True, is_superuser=True)
    group = Group.objects.create(name="Supervisors")
    for name in ("zofia", "adam"):
        make_user(name, "Supervisors")
    client.force_login(root)
    client.post(reverse("admin:auth_group_change", args=[group.pk]),
                group_form("Supervisors", "change_campaign"))
    make_user("later", "Supervisors")
    client.post(reverse("admin:auth_group_delete", args=[group.pk]), {"post": "yes"})
    changed, deleted = Entry.objects.filter(kind="group").order_by("begin_seq")
    assert changed.details["members"] == ["adam", "zofia"]
    assert deleted.details["members"] == ["adam", "later", "zofia"]
    for language in ("en", "pl"):
        page = client.get(changed.get_absolute_url(), HTTP_ACCEPT_LANGUAGE=language)
        assert 'data-testid="members">adam, zofia<' in page.content.decode()
        assert client.get(reverse("audit:timeline"),
                          HTTP_ACCEPT_LANGUAGE=language).status_code == 200
    timeline = client.get(reverse("audit:timeline")).content.decode()
    assert ("group Supervisors changed; gained permission Can change campaign; "
            "2 members at the time") in timeline
    assert ("group Supervisors deleted; lost permission Can change campaign; "
            "3 members at the time") in timeline


@pytest.mark.django_db
def test_a_permission_an_entry_names_reads_in_the_reader_s_words_beside_its_code(client):
    """The entry's page and its timeline row showed "audit.view_audit_trail", in Polish too:
    a code, where the admin's own pages say what the permission lets one do."""
    root = make_user("root", is_staff=True, is_superuser=True)
    group = Group.objects.create(name="Supervisors")
    client.force_login(root)
    client.post(reverse("admin:auth_group_change", args=[group.pk]),
                group_form("Supervisors", "view_audit_trail", "approve_changerequest"))
    entry = Entry.objects.get(kind="group")
    assert entry.details["permissions_gained"] == ["audit.view_audit_trail",
                                                   "campaigns.approve_changerequest"]

    page = client.get(entry.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    timeline = client.get(reverse("audit:timeline"), HTTP_ACCEPT_LANGUAGE="pl")

    gained = re.search(r'data-testid="permissions-gained">(.*?)</dd>', page).group(1)
    assert ("<div>Może przeglądać w dzienniku zdarzeń działania wszystkich użytkowników "
            "<code>audit.view_audit_trail</code></div>") in gained
    assert "<code>campaigns.approve_changerequest</code>" in gained
    assert "Może przeglądać w dzienniku zdarzeń" in timeline.content.decode()
    assert "audit.view_audit_trail" not in timeline.content.decode()


@pytest.mark.django_db
def test_the_admin_s_permission_choices_read_in_the_reader_s_words(client):
    """The group and user pages offered each permission by its stored name, which Django
    writes in English once: "Can see everyone's actions in the audit trail" in Polish too."""
    root = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(root)
    for page in (reverse("admin:auth_group_add"),
                 reverse("admin:auth_user_change", args=[root.pk])):
        html = client.get(page, HTTP_ACCEPT_LANGUAGE="pl").content.decode()
        assert ("Dziennik zdarzeń | ostatnie ogniwo łańcucha dziennika zdarzeń | Może "
                "przeglądać w dzienniku zdarzeń działania wszystkich użytkowników") in html
        assert "Może dodawać: wpis dziennika zdarzeń" in html
        assert "Can see everyone" not in html
    # A permission of a model removed since reads as stored, not as its code.
    gone = Permission.objects.create(
        codename="add_gone", name="Can add gone",
        content_type=ContentType.objects.get_or_create(app_label="campaigns", model="gone")[0])
    html = client.get(reverse("admin:auth_group_add"), HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert f'<option value="{gone.pk}">gone | Can add gone</option>' in html


def read_only(page: str, field: str) -> str:
    """The value a read-only field of an admin page shows."""
    return unescape(re.search(rf'field-{field}">.*?<div class="readonly">(.*?)</div>', page,
                              re.S).group(1))


@pytest.mark.django_db
def test_permissions_an_administrator_may_only_look_at_read_in_the_reader_s_words(client):
    """A group's page and an account's, whose permissions an administrator who is not a
    superuser may not change, listed them as Django lists a read-only field: by their stored
    names, "Can see everyone's actions in the audit trail" in Polish too."""
    boss = make_user("boss", ADMINISTRATORS, is_staff=True)
    ewa = make_user("ewa")
    ewa.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    client.force_login(boss)
    group_page, account_page = (
        client.get(page, HTTP_ACCEPT_LANGUAGE="pl").content.decode()
        for page in (reverse("admin:auth_group_change",
                             args=[Group.objects.get(name=AUDITORS).pk]),
                     reverse("admin:auth_user_change", args=[ewa.pk])))

    assert ("Dziennik zdarzeń | ostatnie ogniwo łańcucha dziennika zdarzeń | Może przeglądać "
            "w dzienniku zdarzeń działania wszystkich użytkowników") in read_only(
        group_page, "permissions_shown")
    assert read_only(account_page, "user_permissions_shown") == (
        "Kampanie | kampania | Może przeglądać: kampania")
    assert "Can " not in group_page + account_page
    # Still not to be changed.
    assert 'name="permissions"' not in group_page
    assert 'name="user_permissions"' not in account_page


@pytest.mark.django_db(transaction=True)
def test_accounts_deleted_from_the_list_are_kept_if_their_entry_cannot_be_written(
        client, monkeypatch):
    """The list's delete action ran in no transaction: an account was deleted for good
    whose audit entry then failed."""
    root = make_user("root", is_staff=True, is_superuser=True)
    gone = [make_user("first").pk, make_user("second").pk]
    client.force_login(root)
    written = []

    def second_fails(**fields):
        written.append(fields["account_name"])
        if len(written) == 2:
            raise DatabaseError("the log's disk is full")

    monkeypatch.setattr(twofactor_admin, "account_roles_record", second_fails)
    with pytest.raises(DatabaseError):
        client.post(reverse("admin:auth_user_changelist"), {
            "action": "delete_selected", "post": "yes", "_selected_action": gone})
    assert User.objects.filter(pk__in=gone).count() == 2
