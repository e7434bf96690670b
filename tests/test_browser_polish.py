"""The main flow in real Chromium whose language is Polish: everything the user reads is
Polish, Thulium is asked for Polish, and the page breaks no rule of its security policy."""

import pytest
from django.contrib.auth.models import Group
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils import translation

from audit.models import Entry
from records.models import AddedRecord
from tests.browser import log_in, open_user_menu, policy_breaks, polish_browser_page  # noqa: F401
from tests.conftest import COMPLIANCE, api_calls

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# How many lines the text of each link of the top bar takes.
LINES_OF_EACH_MENU_LINK = """[...document.querySelectorAll("nav .nav-link")].map(link => {
    const text = document.createRange();
    text.selectNodeContents(link);
    return new Set([...text.getClientRects()].map(box => Math.round(box.bottom))).size;
})"""


def test_a_polish_manager_edits_a_campaign_adds_a_record_and_sees_the_history(
    polish_browser_page, user, campaigns, thulium, settings  # noqa: F811
):
    page = polish_browser_page
    breaks = policy_breaks(page)

    # Every link of the menu, with Polish's longer words, in a laptop's 1280 pixels.
    settings.FOUR_EYES = True
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.groups.add(Group.objects.get(name=COMPLIANCE))
    page.goto("/campaigns/")
    assert page.locator("html").get_attribute("lang") == "pl"
    # The counts the import pages' script writes are grouped as the server groups them.
    with translation.override("pl"):
        assert [intcomma(count) for count in (1234, 1234567)] == page.evaluate(
            "[1234, 1234567].map(new Intl.NumberFormat('pl', {useGrouping: 'always'}).format)")
    log_in(page, user.username, button="Zaloguj się")
    page.wait_for_selector("text=Lista zastrzeżonych numerów")
    page.wait_for_selector("text=Wnioski o zmianę")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # nothing sideways
    # Each link on one line: they go under the portal's name rather than wrap word by word.
    assert page.evaluate(LINES_OF_EACH_MENU_LINK) == [1] * 7
    open_user_menu(page)
    page.wait_for_selector("text=Logowanie dwuetapowe")  # the menu opened
    # In a narrow window the links fold behind one button, and wide tables scroll in their
    # own box, not the page.
    page.set_viewport_size({"width": 700, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth") <= 700
    page.wait_for_selector("nav >> text=Dziennik zdarzeń", state="hidden")
    page.click("[data-testid=menu-toggle]")
    page.wait_for_selector("nav >> text=Dziennik zdarzeń")
    page.set_viewport_size({"width": 1280, "height": 720})
    settings.FOUR_EYES = False  # the manager's changes go to Thulium at once

    page.click("text=Sprzedaż OZE 2026")
    page.wait_for_selector("text=Ustawienia znane portalowi")
    # On a phone the campaign's buttons wrap under its name instead of widening the page.
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 720})
    page.click("text=Edytuj ustawienia")
    page.select_option("select[name=dialer]", "predictive")
    page.fill("input[name=caller_id]", "221112233")
    page.click("input[type=submit]")
    # A risky change without a reason: the form says why, in Polish, and keeps the input.
    page.wait_for_selector("text=Podaj powód: ta zmiana przełącza dialer na tryb predykcyjny")
    assert page.input_value("input[name=caller_id]") == "221112233"
    page.fill("textarea[name=reason]", "Więcej połączeń w sezonie")
    page.click("input[type=submit]")
    # The change to confirm, in the form's words beside the values sent.
    assert "progresywny progressive\t→\tpredykcyjny predictive" in page.inner_text("main table")
    page.click("text=Potwierdź i wyślij do Thulium")
    page.wait_for_selector("text=Thulium przyjął zmiany w kampanii.")

    page.click("text=Dodaj rekord")
    page.fill("input[name=phone_number]", "(22) 555-66-77")
    page.fill("input[name='record_fields.imie']", "Zofia")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Thulium dodał rekord 225556677")

    history = page.locator("[data-testid=history] tbody tr")
    assert history.count() == 2
    assert "dodano rekord" in history.nth(0).inner_text()
    assert "zmieniono ustawienia" in history.nth(1).inner_text()
    assert "Więcej połączeń w sezonie" in history.nth(1).inner_text()
    assert "Historia" in page.inner_text("main")

    # The switch in the page turns the same page to English.
    page.click("button[name=language][value=en]")
    page.wait_for_selector("text=History")
    assert page.locator("html").get_attribute("lang") == "en"

    puts, posts = api_calls(thulium, "PUT"), api_calls(thulium, "POST")
    assert puts[0]["json"] == {"dialer": "predictive", "parameters": {"caller_id": "221112233"}}
    assert posts[0]["json"] == {"phone_number": "225556677", "record_fields": {"imie": "Zofia"}}
    assert {call["accept_language"] for call in puts + posts} == {"pl"}
    assert Entry.objects.get(kind="campaign-change").reason == "Więcej połączeń w sezonie"
    assert Entry.objects.get(kind="record-addition").results["record_id"] == "231"
    assert AddedRecord.objects.get().record_id == "231"
    assert breaks == []
