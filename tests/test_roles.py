"""Who may open what: every URL of the portal, walked as anonymous, each role and an admin.

ACCESS is the one table of the answers. A new URL fails
`test_every_url_of_the_portal_is_in_the_table` until it has a row; a new role is a new
column (and a user in USERS).
"""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.urls import URLResolver, get_resolver, reverse

from campaigns.four_eyes import change_request_create
from campaigns.services import campaign_update
from imports.reading import detect_layout
from imports.services import import_preview, import_upload
from records.services import record_add
from tests.conftest import ADMINISTRATORS, EDITORS, LOADERS, make_user

LOGIN, FORBIDDEN, OK = "login", "403", "ok"

ROLES = ("anonymous", "member", "editor", "loader", "admin")
# url name                       method  anonymous member     editor     loader     admin
ACCESS = [
    ("home",                      "GET",  LOGIN,    OK,        OK,        OK,        OK),
    ("login",                     "GET",  OK,       OK,        OK,        OK,        OK),
    ("logout",                    "POST", LOGIN,    OK,        OK,        OK,        OK),
    ("password_change",           "GET",  LOGIN,    OK,        OK,        OK,        OK),
    ("password_change_done",      "GET",  LOGIN,    OK,        OK,        OK,        OK),
    ("set_language",              "POST", OK,       OK,        OK,        OK,        OK),
    ("campaigns:list",            "GET",  LOGIN,    OK,        OK,        OK,        OK),
    ("campaigns:sync",            "POST", LOGIN,    FORBIDDEN, OK,        FORBIDDEN, OK),
    ("campaigns:detail",          "GET",  LOGIN,    OK,        OK,        OK,        OK),
    ("campaigns:edit",            "GET",  LOGIN,    FORBIDDEN, OK,        FORBIDDEN, OK),
    ("campaigns:change",          "GET",  LOGIN,    OK,        OK,        OK,        OK),
    ("campaigns:requests",        "GET",  LOGIN,    OK,        OK,        OK,        OK),
    ("campaigns:request",         "GET",  LOGIN,    OK,        OK,        OK,        OK),
    ("campaigns:request_approve", "POST", LOGIN,    FORBIDDEN, OK,        FORBIDDEN, FORBIDDEN),
    ("campaigns:request_reject",  "POST", LOGIN,    FORBIDDEN, OK,        FORBIDDEN, FORBIDDEN),
    ("records:new",               "GET",  LOGIN,    FORBIDDEN, FORBIDDEN, OK,        FORBIDDEN),
    ("records:refresh_choices",   "POST", LOGIN,    FORBIDDEN, FORBIDDEN, OK,        FORBIDDEN),
    ("records:detail",            "GET",  LOGIN,    OK,        OK,        OK,        OK),
    # Loaders upload; an import (the requester's) is opened by its creator and auditors only.
    ("imports:upload",            "GET",  LOGIN,    FORBIDDEN, FORBIDDEN, OK,        FORBIDDEN),
    ("imports:detail",            "GET",  LOGIN,    FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("imports:mapping",           "GET",  LOGIN,    FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("imports:read_options",      "POST", LOGIN,    FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("imports:confirm",           "POST", LOGIN,    FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("imports:cancel",            "POST", LOGIN,    FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("imports:progress",          "GET",  LOGIN,    FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("imports:report",            "GET",  LOGIN,    FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    # The admin sends anyone but staff to its own login page.
    ("admin:index",               "GET",  LOGIN,    LOGIN,     LOGIN,     LOGIN,     OK),
    ("admin:auth_user_changelist", "GET", LOGIN,    LOGIN,     LOGIN,     LOGIN,     OK),
    ("admin:campaigns_campaign_changelist", "GET", LOGIN, LOGIN, LOGIN,   LOGIN,     OK),
    ("admin:campaigns_campaignchange_changelist", "GET", LOGIN, LOGIN, LOGIN, LOGIN, OK),
    ("admin:campaigns_changerequest_changelist", "GET", LOGIN, LOGIN, LOGIN, LOGIN,  OK),
    ("admin:records_recordaddition_changelist", "GET", LOGIN, LOGIN, LOGIN, LOGIN,   OK),
    ("admin:axes_accessattempt_changelist", "GET", LOGIN, LOGIN, LOGIN,   LOGIN,     OK),
]
# Roles as groups of roles/migrations/0001_groups.py; the admin is staff, not superuser.
USERS = {
    "member": {"groups": ()},
    "editor": {"groups": (EDITORS,)},
    "loader": {"groups": (LOADERS,)},
    "admin": {"groups": (ADMINISTRATORS,), "is_staff": True},
}
# What the POSTs of the table send.
POST_DATA = {"set_language": {"language": "pl"}, "campaigns:request_reject": {"note": ""}}


@pytest.fixture
def requester(db):
    """The editor who asked for the pending change request."""
    return make_user("requester", EDITORS)


@pytest.fixture
def portal_objects(campaigns, requester):
    """URL arguments for one of each thing, made through the portal's own services."""
    campaign = campaigns["00001"]
    change = campaign_update(campaign=campaign, changes={"order": 7}, actor=requester)
    campaign.refresh_from_db()
    addition = record_add(campaign=campaign, payload={"phone_number": "225556677"},
                          actor=requester)
    change_request = change_request_create(
        campaign=campaign, changes={"dialer": "predictive"}, actor=requester,
        reason="season", risks=["predictive"],
    )
    content = b"Telefon\r\n601000000\r\n"
    job = import_upload(campaign=campaign, actor=requester, file_name="leady.csv",
                        content=content, layout=detect_layout(content, "leady.csv"))
    import_preview(job=job, mapping=job.mapping)
    return {
        "campaigns:detail": [campaign.thulium_id],
        "campaigns:edit": [campaign.thulium_id],
        "campaigns:change": [change.pk],
        "campaigns:request": [change_request.pk],
        "campaigns:request_approve": [change_request.pk],
        "campaigns:request_reject": [change_request.pk],
        "records:new": [campaign.thulium_id],
        "records:refresh_choices": [campaign.thulium_id],
        "records:detail": [addition.pk],
        **{name: [job.pk] for name in ("imports:detail", "imports:mapping", "imports:read_options",
                                       "imports:confirm", "imports:cancel", "imports:progress",
                                       "imports:report")},
        "imports:upload": [campaign.thulium_id],
    }


def make_role_user(role):
    spec = USERS[role]
    return make_user(role, *spec["groups"], is_staff=spec.get("is_staff", False))


def answer_kind(response) -> str:
    if response.status_code == 403:
        return FORBIDDEN
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


def test_every_url_of_the_portal_is_in_the_table():
    portal_urls = {name for name in all_url_names() if not name.startswith("admin:")}
    in_table = {row[0] for row in ACCESS if not row[0].startswith("admin:")}
    assert portal_urls == in_table


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", ACCESS, ids=[row[0] for row in ACCESS])
def test_each_role_gets_the_answer_the_table_says(client, portal_objects, role, row):
    name, method, *expected = row
    if role != "anonymous":
        client.force_login(make_role_user(role))
    url = reverse(name, args=portal_objects.get(name, []))
    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, POST_DATA.get(name, {}))
    assert answer_kind(response) == expected[ROLES.index(role)], (name, response.status_code)


class _Targets(HTMLParser):
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


PAGES = ["campaigns:list", "campaigns:detail", "campaigns:change", "campaigns:requests",
         "campaigns:request", "records:detail", "campaigns:edit", "records:new"]


@pytest.mark.parametrize("role", ["member", "editor", "loader", "admin", "requester"])
def test_no_page_shows_a_role_a_button_that_answers_403(client, portal_objects, requester,
                                                         role):
    user = requester if role == "requester" else make_role_user(role)

    def as_user(method, url):
        client.force_login(user)  # again each time: one of the forms is the logout
        return getattr(client, method)(url)

    followed = []
    for page in PAGES:
        page_url = reverse(page, args=portal_objects.get(page, []))
        response = as_user("get", page_url)
        if response.status_code == 403:
            continue  # a page this role may not open: the crawl checks it is never linked
        targets = _Targets()
        targets.feed(response.content.decode())
        for link in targets.links:
            assert answer_kind(as_user("get", link)) == OK, (role, page, link)
            followed.append(link)
        for action in targets.forms:
            assert answer_kind(as_user("post", action or page_url)) == OK, (role, page, action)
            followed.append(action)
    assert len(followed) > len(PAGES)
