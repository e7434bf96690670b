"""Who sees what: auditors everything, authors their own entries in full, other users only
what was done, when and how it ended, anonymous users nothing.

One table: each role against each page that shows entries.
"""

import datetime as dt
import html
import json
import re
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from audit.recording import outcome_values
from records.services import record_add_begin_all, record_add_complete_all
from tests.audit_fixtures import auditor, change, colleague  # noqa: F401
from tests.conftest import AUDITORS, EDITORS, LOADERS, make_user

pytestmark = pytest.mark.django_db

WARSAW = ZoneInfo("Europe/Warsaw")
AUTHOR = "manager"  # the `user` fixture's name: a campaign editor and record loader


@pytest.fixture
def entries(user, campaigns):
    """Two entries of the author's, in campaign 00001, each holding things only they and
    auditors may read."""
    sales = campaigns["00001"]
    (added,) = record_add_begin_all(
        campaign=sales, actor=user, created_at=dt.datetime(2026, 3, 2, 9, 15, tzinfo=WARSAW),
        payloads=[{"phone_number": "601 234 567", "identifier": "K-7",
                   "record_fields": {"imie": "Zofia"}}],
    )
    record_add_complete_all([(added, outcome_values(
        outcome="succeeded", http_status=200, request_id="req51c2addition",
        results={"record_id": "98231"},
    ))])
    refused = change(actor=user, campaign=sales, sent={"parameters": {"caller_id": "221999888"}},
                     reason="Powód poufny", when=dt.datetime(2026, 3, 3, 10, 30, tzinfo=WARSAW),
                     outcome="refused", http_status=400, request_id="req7e4dchange",
                     messages=["Numer nieprawidłowy"])
    return {"added": added, "refused": refused}


# What each entry holds that the outline (kind, time, outcome) does not, by where it shows:
# in a list of entries, on the entry's page, in the exports.
IN_LISTS = {
    "added": ("601 234 567", "98231", "req51c2addition"),
    "refused": ("Powód poufny", "req7e4dchange"),
}
ON_ITS_PAGE = {
    "added": ("601 234 567", "K-7", "Zofia", "98231", "req51c2addition"),
    "refused": ("221999888", "Powód poufny", "req7e4dchange", "Numer nieprawidłowy"),
}
IN_EXPORTS = ON_ITS_PAGE
# What a viewer who may not read an entry must find nowhere in the page.
ALL_SECRETS = {*(s for texts in ON_ITS_PAGE.values() for s in texts), "601234567"}
# The outline each entry shows to others: its action, its time, its outcome.
OUTLINES = {"added": ("Record addition", "2026-03-02 09:15:00", "succeeded"),
            "refused": ("Settings changed", "2026-03-03 10:30:00", "refused")}

# What each viewer gets of the author's entries.
EVERYTHING = "everything"
OUTLINE = "kind, time and outcome"
NONE = "no entry"  # an export: it holds the viewer's own entries only
FORBIDDEN = "403"
LOG_IN = "sent to log in"

PAGES = ("timeline", "campaign page", "entry page", "csv", "jsonl")
ACCESS = {
    #                  timeline    campaign page entry page  csv         jsonl
    "auditor":        (EVERYTHING, EVERYTHING, EVERYTHING, EVERYTHING, EVERYTHING),
    "auditors group": (EVERYTHING, EVERYTHING, EVERYTHING, EVERYTHING, EVERYTHING),
    "superuser":      (EVERYTHING, EVERYTHING, EVERYTHING, EVERYTHING, EVERYTHING),
    "author":         (EVERYTHING, EVERYTHING, EVERYTHING, EVERYTHING, EVERYTHING),
    "record loader":  (OUTLINE, OUTLINE, FORBIDDEN, NONE, NONE),
    "campaign editor": (OUTLINE, OUTLINE, FORBIDDEN, NONE, NONE),
    "no role":        (OUTLINE, OUTLINE, FORBIDDEN, NONE, NONE),
    "anonymous":      (LOG_IN, LOG_IN, LOG_IN, LOG_IN, LOG_IN),
}
TABLE = [(role, page, seen) for role, row in ACCESS.items()
         for page, seen in zip(PAGES, row, strict=True)]


def viewer(role, request, django_user_model):
    if role == "auditor":
        return request.getfixturevalue("auditor")
    if role == "auditors group":
        return make_user("lead", AUDITORS)
    if role == "superuser":
        return django_user_model.objects.create_superuser("root", "root@example.com", "x")
    if role == "author":
        return request.getfixturevalue("user")
    if role == "record loader":
        return make_user("loader", LOADERS)
    if role == "campaign editor":
        return make_user("editor", EDITORS)
    if role == "no role":
        return request.getfixturevalue("colleague")
    return None


def urls(page, entries) -> list[str]:
    return {
        "timeline": [reverse("audit:timeline")],
        "campaign page": [reverse("campaigns:detail", args=["00001"])],
        "entry page": [entry.get_absolute_url() for entry in entries.values()],
        "csv": [reverse("audit:export_csv")],
        "jsonl": [reverse("audit:export_jsonl")],
    }[page]


def text_of(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def listed_rows(response) -> list:
    page = response.context["page"] if "page" in response.context else response.context["history"]
    return page.rows


def hidden_rows(text) -> list[list[str]]:
    """The cells' texts of every row shown as an outline."""
    rows = re.findall(r'<tr[^>]*data-testid="hidden-entry"[^>]*>(.*?)</tr>', text, re.S)
    return [[" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in rows]


def exported(page, text) -> list[dict]:
    if page == "jsonl":
        return [json.loads(line) for line in text.splitlines()]
    header, *lines = text.lstrip("\ufeff").splitlines()
    assert header.startswith("kind;action;id;"), header
    return [{"id": int(line.split(";")[2])} for line in lines]


@pytest.mark.parametrize(("role", "page", "seen"), TABLE,
                         ids=[f"{role}-{page}" for role, page, _seen in TABLE])
def test_who_sees_what_of_an_authors_entries(client, request, django_user_model, entries, role,
                                             page, seen):
    person = viewer(role, request, django_user_model)
    if person is not None:
        client.force_login(person)
    pks = {entry.pk for entry in entries.values()}

    for url in urls(page, entries):
        response = client.get(url)
        text = text_of(response)
        if seen == LOG_IN:
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("login")), url
            continue
        if seen == FORBIDDEN:
            assert response.status_code == 403, url
        else:
            assert response.status_code == 200, url

        if seen == EVERYTHING and page in ("timeline", "campaign page"):
            rows = listed_rows(response)
            assert {row.entry.pk for row in rows} == pks
            assert all(row.visible for row in rows)
            assert 'data-testid="hidden-entry"' not in text
            for name, entry in entries.items():
                assert f'href="{entry.get_absolute_url()}"' in text
                assert all(secret in text for secret in IN_LISTS[name]), name
            assert f"<td data-label=\"Who\">{AUTHOR}</td>" in text
        elif seen == EVERYTHING and page == "entry page":
            name = next(name for name, e in entries.items() if e.get_absolute_url() == url)
            assert all(secret in text for secret in ON_ITS_PAGE[name]), name
            assert AUTHOR in text
        elif seen == EVERYTHING:
            assert {line["id"] for line in exported(page, text)} == pks
            assert all(secret in text for texts in IN_EXPORTS.values() for secret in texts)
            assert AUTHOR in text
        elif seen == OUTLINE:
            rows = listed_rows(response)
            assert {row.entry.pk for row in rows} == pks
            assert not any(row.visible or row.summary for row in rows)
            shown = hidden_rows(text)
            assert len(shown) == 2
            campaign = [] if page == "campaign page" else ["Sprzedaż OZE 2026 00001"]
            assert shown == [
                [when, "—", *campaign, action, outcome, ""]
                for action, when, outcome in (OUTLINES["refused"], OUTLINES["added"])
            ]
        elif seen == NONE:
            assert exported(page, text) == []

        if seen != EVERYTHING:
            assert not [secret for secret in ALL_SECRETS if secret in text], url
            assert not [e.pk for e in entries.values() if e.get_absolute_url() in text], url
            assert f">{AUTHOR}<" not in text


def test_a_user_sees_their_own_entries_in_full_next_to_others_outlines(client, entries,
                                                                      colleague):  # noqa: F811
    own = change(actor=colleague, campaign=entries["added"].campaign, sent={"order": 4},
                 reason="Moja zmiana")
    client.force_login(colleague)

    response = client.get(reverse("audit:timeline"))

    assert [(row.entry, row.visible) for row in listed_rows(response)] == [
        (own, True), (entries["refused"], False), (entries["added"], False)]
    text = response.content.decode()
    assert f'href="{own.get_absolute_url()}"' in text and "Moja zmiana" in text
    assert len(hidden_rows(text)) == 2


def test_a_user_without_the_permission_cannot_ask_for_someone_elses_actions(
    client, colleague, user, entries  # noqa: F811
):
    client.force_login(colleague)

    response = client.get(reverse("audit:timeline"), {"user": user.pk})
    export = client.get(reverse("audit:export_csv"), {"user": user.pk})

    assert response.context["page"] is None
    assert "user" in response.context["form"].errors
    assert export.status_code == 302  # back to the timeline, which says why


@pytest.mark.parametrize("search", ["601234567", "K-7", "98231", "req7e4dchange"])
def test_a_users_search_finds_only_their_own_entries(client, colleague, auditor, entries,  # noqa: F811
                                                     search):
    # Even an outline would tell that someone sent this number, identifier or request.
    client.force_login(colleague)
    theirs = client.get(reverse("audit:timeline"), {"q": search})
    jsonl = text_of(client.get(reverse("audit:export_jsonl"), {"q": search}))
    client.force_login(auditor)
    everyone = client.get(reverse("audit:timeline"), {"q": search})

    assert listed_rows(theirs) == []
    assert jsonl == ""
    assert len(listed_rows(everyone)) == 1


def test_a_user_without_the_permission_is_offered_everyone_and_themselves_once(
    client, colleague, entries  # noqa: F811
):
    """Their name was offered twice: first for everyone's entries (others' in outline),
    then for their own."""
    client.force_login(colleague)
    choices = client.get(reverse("audit:timeline")).context["form"].fields["user"].choices
    assert [str(label) for _value, label in choices] == ["everyone", colleague.get_username()]
