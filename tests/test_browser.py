"""The main flow in real Chromium: log in, edit a campaign, add a record, see the history."""

import pytest

from audit.models import Entry
from records.models import AddedRecord
from tests.browser import browser_page, log_in, polish_browser_page  # noqa: F401
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


@pytest.mark.parametrize(("page_fixture", "language"), [("polish_browser_page", "pl"),
                                                        ("browser_page", "en")])
def test_a_page_has_no_cookie_storage_or_language_an_earlier_test_left_in_the_same_chromium(
    request, chromium, page_fixture, language, user
):
    # The two share one Chromium; whichever runs second checks that the first one's login,
    # local storage and language stayed in its own context.
    page = request.getfixturevalue(page_fixture)
    assert chromium.contexts == [page.context]
    assert page.context.cookies() == []
    page.goto("/campaigns/")
    assert page.locator("html").get_attribute("lang") == language
    assert page.evaluate("localStorage.length") == 0
    page.wait_for_selector("input[name=username]")  # not logged in

    log_in(page, user.username, button=page.inner_text("main form button[type=submit]"))
    page.wait_for_selector("[data-testid=username]")
    page.evaluate("localStorage.setItem('left by', document.documentElement.lang)")
