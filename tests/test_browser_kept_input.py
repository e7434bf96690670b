"""In Chromium: a record typed after the session had ended is back in its form, unsent,
after the login (portal/kept_input.py, static/portal/kept_input.js)."""

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from tests.browser import browser_page, log_in, policy_breaks  # noqa: F401
from tests.conftest import records_sent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_record_typed_after_the_session_ended_is_back_in_its_form_after_the_login(
    browser_page, user, campaigns, thulium  # noqa: F811
):
    page = browser_page
    breaks = policy_breaks(page)
    page.goto("/campaigns/00001/records/new/")
    log_in(page, user.username)
    page.fill("input[name=phone_number]", "(22) 555-66-77")
    page.fill("input[name='record_fields.imie']", "Zofia")
    Session.objects.all().delete()  # the session ends while the user types
    page.click("input[type=submit]")
    page.wait_for_selector("input[name=password]")  # the login page

    log_in(page, user.username)
    expect(page.get_by_test_id("kept-input")).to_contain_text("Your session had ended")
    expect(page.locator("input[name=phone_number]")).to_have_value("(22) 555-66-77")
    expect(page.locator("input[name='record_fields.imie']")).to_have_value("Zofia")
    assert records_sent(thulium) == []

    page.click("input[type=submit]")  # checked, and sent again
    page.wait_for_selector("text=Thulium added the record")
    assert records_sent(thulium) == [{"phone_number": "225556677",
                                      "record_fields": {"imie": "Zofia"}}]
    assert breaks == []
