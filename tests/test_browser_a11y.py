"""Accessibility in real Chromium: what keyboard users see."""

import pytest

from tests.browser import browser_page, log_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUS_RING = """() => {
    const style = getComputedStyle(document.activeElement);
    return [style.outlineStyle, style.outlineWidth, style.outlineColor, style.boxShadow];
}"""


def test_the_keyboard_s_focus_shows_a_solid_ring_on_the_bar_and_in_forms(
    browser_page, user, campaigns  # noqa: F811
):
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/campaigns/00001/edit/")
    log_in(page, user.username)

    page.locator("nav .nav-link").first.focus()
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUS_RING) == ["solid", "2px", "rgb(255, 255, 255)", "none"]

    page.locator("input[name=name]").focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "name"
    assert page.evaluate(FOCUS_RING) == ["solid", "2px", "rgb(10, 88, 202)", "none"]

    page.locator("main [type=submit]").focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUS_RING) == ["solid", "2px", "rgb(10, 88, 202)", "none"]


def test_the_first_tab_shows_the_skip_link_which_moves_focus_to_the_main_content(
    browser_page, user, campaigns  # noqa: F811
):
    page = browser_page
    page.goto("/campaigns/")
    log_in(page, user.username)
    page.wait_for_selector("[data-testid=username]")

    page.keyboard.press("Tab")
    skip = page.locator("text=Skip to main content")
    assert skip.evaluate("link => link === document.activeElement")
    assert skip.bounding_box()["width"] > 50
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
