"""In real Chromium: a second browser meets the conflict page instead of overwriting the
first one's change, and the change is then restored to its previous values."""

import pytest

from audit.models import Entry
from campaigns.entries import CAMPAIGN_CHANGE
from tests.browser import another_browser_page, browser_page, log_in  # noqa: F401
from tests.conftest import EDITORS, api_calls, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_second_browser_meets_the_conflict_page_and_the_change_is_then_restored(
    browser_page, another_browser_page, user, campaigns, thulium  # noqa: F811
):
    first, second = browser_page, another_browser_page
    make_user("colleague", EDITORS)
    for page, name in ((first, user.username), (second, "colleague")):
        page.goto("/campaigns/00001/edit/")
        log_in(page, name)
        page.wait_for_selector("input[name=order]")

    first.fill("input[name=order]", "7")
    first.click("input[type=submit]")
    first.wait_for_selector("text=Thulium accepted the changes")

    second.fill("input[name=parity]", "20")
    second.click("input[type=submit]")
    conflict = second.locator("[data-testid=conflict]")
    assert "manager" in conflict.inner_text()
    # The colleague's input is kept, the first change is in the form, not overwritten.
    assert (second.input_value("input[name=order]"),
            second.input_value("input[name=parity]")) == ("7", "20")
    second.click("input[type=submit]")
    second.wait_for_selector("text=Thulium accepted the changes")
    assert [call["json"] for call in api_calls(thulium, "PUT")] == [{"order": 7},
                                                                   {"parity": 20}]

    # Restore the values from before the first change: only its field comes back.
    change = Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug).earliest("pk")
    first.goto(change.get_absolute_url())
    first.click("[data-testid=restore]")
    assert (first.input_value("input[name=order]"),
            first.input_value("input[name=parity]")) == ("50", "20")
    first.fill("textarea[name=reason]", "Back to the old order")
    first.click("input[type=submit]")
    first.wait_for_selector("text=Thulium accepted the changes")
    assert api_calls(thulium, "PUT")[-1]["json"] == {"order": 50}
    first.goto(change.get_absolute_url())
    assert first.locator("[data-testid=reverted-by] a").count() == 1
