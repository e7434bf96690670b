"""The main flow in real Chromium: log in, edit a campaign, add a record, see the history."""

import pytest

from audit.models import Entry
from records.models import AddedRecord
from tests.browser import browser_page, log_in  # noqa: F401
from tests.conftest import api_calls

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_edits_a_campaign_adds_a_record_and_sees_both_in_the_history(
    browser_page, user, campaigns, thulium  # noqa: F811
):
    page = browser_page
    page.goto("/campaigns/")
    log_in(page, user.username)

    page.click("text=Sprzedaż OZE 2026")
    page.click("text=Edit settings")
    page.select_option("select[name=dialer]", "predictive")
    page.fill("input[name=caller_id]", "221112233")
    page.fill("textarea[name=reason]", "Więcej połączeń w sezonie")
    page.click("input[type=submit]")
    # Risky: old → new for each field, and nothing sent until confirmed.
    table = page.locator("[data-testid=confirm-changes]").inner_text()
    assert "progressive" in table and "221112233" in table
    assert api_calls(thulium, "PUT") == []
    page.click("text=Confirm and send to Thulium")
    page.wait_for_selector("text=Thulium accepted the changes")

    page.click("text=Add a record")
    page.fill("input[name=phone_number]", "(22) 555-66-77")
    page.fill("input[name='record_fields.imie']", "Zofia")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Thulium added the record")

    history = page.locator("[data-testid=history] tbody tr")
    assert history.count() == 2
    assert "record added" in history.nth(0).inner_text()
    assert "settings changed" in history.nth(1).inner_text()

    puts, posts = api_calls(thulium, "PUT"), api_calls(thulium, "POST")
    assert puts[0]["json"] == {"dialer": "predictive", "parameters": {"caller_id": "221112233"}}
    assert posts[0]["json"] == {"phone_number": "225556677", "record_fields": {"imie": "Zofia"}}
    assert Entry.objects.get(kind="campaign-change").reason == "Więcej połączeń w sezonie"
    assert Entry.objects.get(kind="record-addition").results["record_id"] == "231"
    assert AddedRecord.objects.get().record_id == "231"
