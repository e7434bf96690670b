"""The audit trail in real Chromium: filter the timeline, open an entry, read its diff."""

import pytest

from campaigns.services import campaign_update
from records.services import record_add
from tests.audit_fixtures import auditor  # noqa: F401
from tests.browser import browser_page, log_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_auditor_filters_the_timeline_and_opens_a_changes_diff(
    browser_page, auditor, user, campaigns  # noqa: F811
):
    campaign_update(campaign=campaigns["00001"], actor=user, reason="Sezon",
                    changes={"dialer": "predictive", "parameters": {"caller_id": "456"}})
    record_add(campaign=campaigns["00001"], actor=user, payload={"phone_number": "601234567"})
    record_add(campaign=campaigns["00002"], actor=user, payload={"phone_number": "601234568"})
    page = browser_page
    page.goto("/audit/")
    log_in(page, auditor.username)
    timeline = page.locator("[data-testid=timeline] tbody tr")
    assert timeline.count() == 3

    page.select_option("select[name=campaign]", "00001")
    page.select_option("select[name=kind]", "campaign-change")
    page.click("button[type=submit]:has-text('Filter')")
    page.wait_for_url("**campaign=00001**")
    assert timeline.count() == 1
    assert "settings changed: Dialer, Caller ID" in timeline.nth(0).inner_text()

    page.click("text=settings changed: Dialer, Caller ID")
    diff = page.locator("[data-testid=diff] tbody tr")
    assert [diff.nth(n).inner_text().split("\t") for n in range(diff.count())] == [
        ["Dialer dialer", "progressive", "→", "predictive"],
        ["Caller ID parameters.caller_id", "221234567", "→", "456"],
    ]
    assert page.locator("[data-testid=reason]").inner_text() == "Sezon"

    # On a phone each row is a block of labelled cells: the outcome is on screen, not in a
    # table scrolled sideways.
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/audit/")
    outcome = page.locator("[data-testid=timeline] tbody tr").first.locator(".outcome-succeeded")
    box = outcome.bounding_box()
    assert box["x"] + box["width"] <= 375
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
