"""Who sees what: everyone their own actions, auditors everyone's, anonymous users nothing."""

import json

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.audit_fixtures import addition, auditor, change, colleague  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(user, colleague, campaigns):  # noqa: F811
    sales = campaigns["00001"]
    return {
        "mine": change(actor=user, campaign=sales, sent={"dialer": "preview"}),
        "theirs": addition(actor=colleague, campaign=sales, phone="601234567"),
    }


@pytest.fixture
def member_of_auditors(django_user_model):
    member = django_user_model.objects.create_user("lead")
    member.groups.add(Group.objects.get(name="Auditors"))
    return member


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "x")


def audit_urls(entries) -> dict[str, str]:
    """Every audit address, with the entries of both users."""
    return {
        "timeline": reverse("audit:timeline"),
        "csv": reverse("audit:export_csv"),
        "jsonl": reverse("audit:export_jsonl"),
        "mine": entries["mine"].get_absolute_url(),
        "theirs": entries["theirs"].get_absolute_url(),
        "old mine": reverse("campaigns:change", args=[entries["mine"].pk]),
        "old theirs": reverse("records:detail", args=[entries["theirs"].pk]),
    }


def seen_pks(client, entries) -> dict[str, set[str]]:
    """Which entries each listing shows, by name."""
    names = {f"{e._meta.model_name}:{e.pk}": name for name, e in entries.items()}
    timeline = client.get(reverse("audit:timeline")).context["page"].rows
    jsonl = b"".join(client.get(reverse("audit:export_jsonl")).streaming_content).decode()
    csv_text = b"".join(client.get(reverse("audit:export_csv")).streaming_content).decode()
    kinds = {"campaign-change": "campaignchange", "record-addition": "recordaddition"}
    return {
        "timeline": {names[f"{r.entry._meta.model_name}:{r.entry.pk}"] for r in timeline},
        "jsonl": {names[f"{kinds[line['kind']]}:{line['id']}"]
                  for line in map(json.loads, jsonl.splitlines())},
        "csv": {names[f"{kinds[line.split(',')[0]]}:{line.split(',')[1]}"]
                for line in csv_text.splitlines()[1:]},
    }


def test_anonymous_users_are_sent_to_log_in_from_every_audit_url(client, entries):
    for name, url in audit_urls(entries).items():
        response = client.get(url)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login")), name


def test_a_user_without_the_permission_sees_only_their_own_actions(client, user, entries):
    client.force_login(user)
    urls = audit_urls(entries)

    answers = {name: client.get(url, follow=True).status_code for name, url in urls.items()}

    assert answers == {"timeline": 200, "csv": 200, "jsonl": 200, "mine": 200, "theirs": 403,
                       "old mine": 200, "old theirs": 403}
    assert seen_pks(client, entries) == {"timeline": {"mine"}, "jsonl": {"mine"},
                                         "csv": {"mine"}}


def test_a_user_without_the_permission_cannot_ask_for_someone_elses_actions(
    client, user, colleague, entries  # noqa: F811
):
    client.force_login(user)

    response = client.get(reverse("audit:timeline"), {"user": colleague.pk})
    export = client.get(reverse("audit:export_csv"), {"user": colleague.pk})

    assert response.context["page"] is None
    assert "user" in response.context["form"].errors
    assert export.status_code == 302  # back to the timeline, which says why


@pytest.mark.parametrize("who", ["auditor", "member_of_auditors", "superuser"])
def test_auditors_and_superusers_see_everyones_actions(client, entries, who, request):
    client.force_login(request.getfixturevalue(who))

    answers = {name: client.get(url, follow=True).status_code
               for name, url in audit_urls(entries).items()}

    assert set(answers.values()) == {200}
    assert seen_pks(client, entries) == {"timeline": {"mine", "theirs"},
                                         "jsonl": {"mine", "theirs"},
                                         "csv": {"mine", "theirs"}}
