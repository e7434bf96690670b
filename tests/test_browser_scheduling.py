"""A scheduled change in real Chromium: saved from the edit form for a few minutes ahead, shown
waiting, then due and applied by the worker's due-check, and shown applied."""

import datetime

import pytest
from django.utils import timezone

from campaigns.due import due_changes_apply
from campaigns.models import ScheduledChange
from tests.browser import browser_page, log_in  # noqa: F401
from tests.conftest import EDITORS, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_change_scheduled_in_the_browser_is_applied_when_due(
    browser_page, campaigns, thulium  # noqa: F811
):
    user = make_user("scheduler", EDITORS)
    in_two_minutes = timezone.localtime() + datetime.timedelta(minutes=2)
    page = browser_page
    page.goto("/campaigns/00001/edit/")
    log_in(page, user.username)
    page.select_option("select[name=active]", "false")
    page.fill("input[name=apply_at]", in_two_minutes.strftime("%Y-%m-%dT%H:%M"))
    page.click("text=Send to Thulium")
    assert "the portal sends it to Thulium at" in page.inner_text("[role=alert]")
    waiting = page.inner_text("[data-testid=campaign-waiting-changes]")
    assert "Active" in waiting and "waiting" in waiting
    assert thulium.state.campaign("00001")["active"] is True

    # The time comes: moved to now rather than waited for, then the worker's own due-check.
    ScheduledChange.objects.update(apply_at=timezone.now())
    due_changes_apply()

    page.click("nav >> text=Scheduled changes")
    assert "applied" in page.inner_text("[data-testid=finished-changes]")
    page.click("[data-testid=finished-changes] a")
    assert page.inner_text("[data-testid=scheduled-state]").startswith("applied")
    assert "succeeded" in page.inner_text("[data-testid=sent-change]")
    assert thulium.state.campaign("00001")["active"] is False
