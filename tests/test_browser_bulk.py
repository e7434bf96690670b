"""Two campaigns changed at once in real Chromium: ticked on the list, previewed, sent."""

import pytest

from audit.models import Entry
from tests.browser import browser_page, log_in  # noqa: F401
from tests.conftest import api_calls

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_changes_two_campaigns_from_the_list(
    browser_page, user, campaigns, thulium  # noqa: F811
):
    page = browser_page
    page.goto("/campaigns/")
    log_in(page, user.username)
    # On a phone each campaign is a block of labelled cells: its last one, Thulium's
    # figures, is on screen rather than in a table scrolled sideways.
    desktop = page.viewport_size
    page.set_viewport_size({"width": 375, "height": 800})
    first = page.locator("[data-testid=campaigns] tbody tr").first
    figures = first.locator("td").last.bounding_box()
    assert figures["x"] + figures["width"] <= 375
    page.set_viewport_size(desktop)

    page.check("input[name=campaign][value='00001']")
    page.check("input[name=campaign][value='A7K2Q']")
    page.click("[data-testid=bulk-change]")
    assert page.locator("[data-testid=chosen]").count() == 2
    page.fill("input[name=preview_timeout]", "45")
    page.fill("input[name=parity]", "60")
    page.click("button:has-text('Preview the change')")

    preview = page.locator("[data-testid=preview]")
    assert "Parity: 50 → 60" in preview.inner_text()
    assert preview.locator("tr[data-state=change]").count() == 2
    assert api_calls(thulium, "PUT") == []
    page.click("button:has-text('Confirm: change 2 campaigns')")

    outcomes = page.locator("[data-testid=outcomes] tr[data-state=succeeded]")
    outcomes.first.wait_for()
    assert outcomes.count() == 2
    puts = {call["path"]: call["json"] for call in api_calls(thulium, "PUT")}
    body = {"parity": 60, "parameters": {"preview_timeout": 45}}
    assert puts == {"/api/outbounds/00001": body, "/api/outbounds/A7K2Q": body}
    assert Entry.objects.filter(kind="campaign-change", outcome="succeeded").count() == 2
