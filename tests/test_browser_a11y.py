"""Accessibility in real Chromium: what keyboard users see."""

import pytest

from imports.services import import_confirm
from tests.browser import browser_page, log_in  # noqa: F401
from tests.import_files import csv_bytes, people, previewed

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


def test_an_import_s_page_rewrites_nothing_that_did_not_change_while_it_polls(
    browser_page, client, user, campaigns  # noqa: F811
):
    client.force_login(user)
    job = previewed(client, campaigns["00001"], csv_bytes(people(2)))
    import_confirm(job=job)  # queued, and no worker takes it: nothing changes
    page = browser_page
    page.goto(job.get_absolute_url())
    log_in(page, user.username)
    page.wait_for_selector("[data-field=state_label]")
    page.evaluate("""() => {
        window.rewrites = 0;
        new MutationObserver(changes => { window.rewrites += changes.length; })
            .observe(document.getElementById("import-progress"),
                     {childList: true, characterData: true, subtree: true});
    }""")

    for _ in range(3):  # the page asks every second
        with page.expect_response(lambda response: "progress.json" in response.url):
            pass
    page.wait_for_timeout(200)
    assert page.evaluate("window.rewrites") == 0
