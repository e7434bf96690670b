"""A campaign chosen in a form (portal.campaign_choice): a select for a small portal, and for
a contact center's thousands a text box taking a Thulium id or exact name, whose pages do
not grow with the campaigns nor read their settings."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import Campaign
from donotcall.models import Suppression
from portal.campaign_choice import SELECT_MOST
from tests.conftest import AUDITORS, COMPLIANCE, LOADERS, make_user

PAGES = [
    ("/audit/", AUDITORS, "campaign"),
    ("/do-not-call/", COMPLIANCE, "campaign"),
    ("/do-not-call/", COMPLIANCE, "search_scope"),
    ("/do-not-call/upload/", COMPLIANCE, "campaign"),
    ("/imports/", LOADERS, "campaign"),
]


def make_campaigns(count):
    Campaign.objects.bulk_create(
        Campaign(thulium_id=f"C{n:04d}", name=f"Kampania {n}",
                 settings={"active": True, "parameters": {"caller_id": "221234567"}})
        for n in range(count))


@pytest.fixture
def many_campaigns(db):
    make_campaigns(SELECT_MOST + 1)


@pytest.fixture
def officer(client, db):
    client.force_login(make_user("officer", COMPLIANCE))
    return client


def input_tag(page: str, field_id: str) -> str:
    return re.search(rf'<(?:input|select)[^>]*id="id_{field_id}"[^>]*>|'
                     rf'<(?:input|select)[^>]*id="{field_id}"[^>]*>', page).group()


@pytest.mark.parametrize(("path", "group", "field_id"), PAGES)
def test_a_page_lists_no_campaign_and_reads_none_s_settings_beyond_the_threshold(
        client, many_campaigns, path, group, field_id):
    client.force_login(make_user("reader", group))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    page = response.content.decode()
    assert 'value="C0007"' not in page
    # The page's other filters' choices (the audit's actions, outcomes), never a campaign's.
    assert not re.search(r'<option value="C\d{4}"', page)
    assert page.count("<option") < 50
    tag = input_tag(page, field_id)
    assert tag.startswith("<input") and 'type="text"' in tag
    assert re.search(r'aria-describedby="[^"]*helptext', tag)
    assert "Thulium id or its exact name" in page
    read = [q["sql"] for q in queries if 'FROM "campaigns_campaign"' in q["sql"]]
    assert read and not [sql for sql in read if '"settings"' in sql]


@pytest.mark.parametrize(("path", "group", "field_id"), PAGES)
def test_a_small_portal_keeps_its_select_of_campaigns(client, db, path, group, field_id):
    make_campaigns(3)
    client.force_login(make_user("reader", group))
    page = client.get(path).content.decode()
    assert input_tag(page, field_id).startswith("<select")
    assert '<option value="C0002">Kampania 2 (C0002)</option>' in page


@pytest.mark.parametrize("typed", ["C0007", "Kampania 7", " Kampania 7 "])
def test_a_number_is_added_to_a_campaign_typed_by_its_id_or_exact_name(
        officer, many_campaigns, typed):
    response = officer.post(reverse("donotcall:add"), {
        "phone_number": "601 234 567", "campaign": typed, "reason": "request"})
    assert response.status_code == 302
    assert Suppression.objects.get().campaign.thulium_id == "C0007"


def shown(client, **query) -> list[str]:
    response = client.get(reverse("donotcall:list"), query)
    return [entry.campaign.thulium_id if entry.campaign else "all"
            for entry in response.context["page"]]


def test_the_search_finds_a_campaign_s_entries_by_its_id_or_exact_name(officer, many_campaigns):
    for campaign in ("C0007", "C0008", ""):
        officer.post(reverse("donotcall:add"), {
            "phone_number": "601 234 567", "campaign": campaign, "reason": "request"})
    assert shown(officer, scope="C0007") == ["C0007"]
    assert shown(officer, scope="Kampania 8") == ["C0008"]
    assert shown(officer, scope="all") == ["all"]


@pytest.mark.parametrize(("path", "group", "name"), [
    ("/audit/", AUDITORS, "campaign"),
    ("/do-not-call/", COMPLIANCE, "scope"),
    ("/imports/", LOADERS, "campaign"),
])
def test_an_unknown_campaign_is_refused_next_to_the_field_with_the_input_kept(
        client, many_campaigns, path, group, name):
    client.force_login(make_user("reader", group))
    page = client.get(path, {name: "Kampania X"}).content.decode()
    assert "No campaign has the Thulium id or the name “Kampania X”." in page
    assert re.search(r'<input[^>]*value="Kampania X"[^>]*is-invalid|'
                     r'<input[^>]*is-invalid[^>]*value="Kampania X"', page)


def test_a_name_several_campaigns_bear_asks_for_the_thulium_id(officer, many_campaigns):
    Campaign.objects.filter(thulium_id="C0008").update(name="Kampania 7")
    response = officer.post(reverse("donotcall:add"), {
        "phone_number": "601 234 567", "campaign": "Kampania 7", "reason": "request"})
    assert "Several campaigns are named “Kampania 7”" in response.content.decode()
    assert not Suppression.objects.exists()
