"""The do-not-call list in real Chromium: upload a list, see one of its numbers refused, and
an import holding two of them set them apart."""

import pytest

from tests.browser import browser_page, log_in  # noqa: F401
from tests.conftest import COMPLIANCE, LOADERS, make_user
from tests.import_files import csv_bytes, people

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_uploaded_list_blocks_a_single_addition_and_an_import(
    browser_page, campaigns, tmp_path  # noqa: F811
):
    user = make_user("compliance-loader", COMPLIANCE, LOADERS)
    listed = tmp_path / "zastrzezone.csv"
    listed.write_bytes(csv_bytes([["601000001", "Łucja"], ["601000002", "Żaneta"]],
                                 header=["Numer", "Imię"], encoding="cp1250"))
    leads = tmp_path / "leady.csv"
    leads.write_bytes(csv_bytes(people(4, first=601000000)))  # 601000001 and 601000002 listed

    page = browser_page
    page.goto("/do-not-call/")
    log_in(page, user.username)
    page.click("text=Upload a file of numbers")
    page.set_input_files("input[name=file]", str(listed))
    page.select_option("select[name=reason]", "request")
    page.click("button[type=submit]:has-text('Upload')")
    assert "2 numbers put on the list." in page.inner_text("[data-testid=upload-result]")

    page.goto("/campaigns/00001/records/new/")
    page.fill("input[name=phone_number]", "+48 601 000 002")
    page.click("text=Add to the campaign")
    assert "on the do-not-call list" in page.inner_text("#id_phone_number ~ .invalid-feedback")
    assert page.input_value("input[name=phone_number]") == "+48 601 000 002"

    page.goto("/campaigns/00001/")
    page.click("text=Import records")
    page.set_input_files("input[name=file]", str(leads))
    page.click("text=Upload and map the columns")
    page.click("text=Check every row")
    page.wait_for_selector("text=Nothing has been sent to Thulium yet.")
    assert page.inner_text("[data-count=suppressed]") == "2"
    assert page.inner_text("[data-count=valid]") == "2"
    assert page.inner_text("[data-testid=problems]").count("on the do-not-call list") >= 2

    # On a phone the list fits the screen: its table scrolls, not the page (a heading hidden
    # for screen readers widened it past the screen).
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/do-not-call/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The add form's "Reason" label is its own, not the search's.
    page.click("[data-testid=add-form] label[for$=reason]")
    assert page.evaluate("document.activeElement.closest('form').dataset.testid") == "add-form"
