"""Accessibility in real Chromium: axe-core's checks of the pages, and what keyboard users see."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from imports.services import import_confirm
from tests.browser import _page, browser_page, log_in  # noqa: F401
from tests.conftest import AUDITORS, COMPLIANCE
from tests.import_files import csv_bytes, people, previewed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# axe-core comes from the npm registry: .ci/run installs it and names it here.
AXE = Path(os.environ.get("AXE_CORE_JS") or Path.home() / ".cache/portal-axe-core/node_modules"
           / "axe-core/axe.min.js")
SERIOUS_VIOLATIONS = """async () => {
    const results = await axe.run(document, {resultTypes: ["violations"]});
    return results.violations
        .filter(rule => rule.impact === "serious" || rule.impact === "critical")
        .map(rule => rule.id + ": " + rule.nodes.map(node => node.target.join(" ")).join(", "));
}"""

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


@pytest.fixture(params=["en-GB", "pl-PL"])
def axe_page(request, chromium, live_server):
    """A page in real Chromium in each language that may run axe-core: the page's
    Content-Security-Policy forbids injected scripts, so this browser alone ignores it."""
    if not AXE.is_file():
        reason = (f"axe-core is not at {AXE} (npm install --prefix ~/.cache/portal-axe-core "
                  "axe-core@4.14.1, as .ci/run does, or set AXE_CORE_JS)")
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the accessibility checks: {reason}")
        pytest.skip(reason)
    yield from _page(chromium, live_server, locale=request.param, bypass_csp=True)


def test_no_page_has_a_serious_or_critical_accessibility_violation(
    axe_page, client, user, campaigns  # noqa: F811
):
    user.groups.add(*Group.objects.filter(name__in=[AUDITORS, COMPLIANCE]))
    client.force_login(user)
    job = previewed(client, campaigns["00001"], csv_bytes(people(2)))
    import_confirm(job=job)
    page = axe_page
    found = {}

    def check(name):
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(SERIOUS_VIOLATIONS)
        if violations:
            found[name] = violations

    page.goto("/campaigns/")
    check("login")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "not the password")
    page.click("main form button[type=submit]")
    page.wait_for_selector("#login-error")
    check("login refused")
    page.fill("input[name=username]", user.username)
    log_in(page, user.username, button=page.inner_text("main form button[type=submit]"))
    page.wait_for_selector("[data-testid=username]")
    for path in ["/campaigns/", "/campaigns/00001/", "/campaigns/00001/edit/",
                 "/campaigns/00001/records/new/", "/campaigns/bulk/",
                 "/campaigns/00001/records/import/", job.get_absolute_url(), "/imports/",
                 "/audit/", "/audit/?date_from=1800-01-01&date_to=2999-99-99&kind=x",
                 "/audit/forget/", "/do-not-call/", "/campaigns/scheduled/"]:
        page.goto(path)
        check(path)
    page.goto("/campaigns/00001/edit/")
    page.fill("input[name=name]", "")
    # The server's errors, not the browser's own checks of required fields.
    page.evaluate("document.querySelectorAll('form').forEach(form => { form.noValidate = true; })")
    page.click("main [type=submit]")
    page.wait_for_selector(".is-invalid")
    check("campaign edit refused")
    page.goto("/campaigns/00001/records/new/")
    # The server's errors, not the browser's own checks of required fields.
    page.evaluate("document.querySelectorAll('form').forEach(form => { form.noValidate = true; })")
    page.click("form:has([name=phone_number]) [type=submit]")
    page.wait_for_selector(".is-invalid")
    check("record refused")

    assert found == {}
