"""An import in real Chromium: upload, map, a worker's check of the rows, the preview,
confirm, watch the bar reach 100 %."""

import pytest

from imports.models import ImportJob, RowState
from tests.browser import browser_page, log_in  # noqa: F401
from tests.conftest import api_calls
from tests.import_files import csv_bytes, people
from tests.workers import Workers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_imports_a_file_and_watches_it_reach_one_hundred_percent(
    browser_page, user, campaigns, thulium, tmp_path, settings  # noqa: F811
):
    thulium.state.latency = 0.05
    rows = people(60) + [["+48 602 345 678 901 234", "Za", "długi", "numer"]]
    leads = tmp_path / "leady.csv"
    leads.write_bytes(csv_bytes(rows, header=["Nr telefonu", "Imię", "Nazwisko", "Uwagi"],
                                encoding="cp1250"))
    settings.IMPORT_CHECK_INLINE_BYTES = 0  # as for a large file: a worker checks the rows
    workers = Workers(thulium, "database", tmp_path)
    try:
        page = browser_page
        page.goto("/campaigns/00001/")
        log_in(page, user.username)
        page.click("text=Import records")
        page.set_input_files("input[name=file]", str(leads))
        page.click("text=Upload and map the columns")

        assert page.input_value("select[name=encoding]") == "cp1250"
        assert page.input_value("select[name=column_0]") == "phone_number"
        assert page.input_value("select[name=column_3]") == ""  # "Uwagi" is no field
        page.select_option("select[name=column_3]", "record_fields.miasto")
        page.click("text=Check every row")

        # No worker yet: the page waits for one, then opens the preview by itself.
        page.wait_for_selector("[data-testid=checking]")
        workers.start()
        page.wait_for_selector("text=Nothing has been sent to Thulium yet.", timeout=60_000)
        assert page.inner_text("[data-count=invalid]") == "1"
        assert "Enter a phone number of 6 to 15 digits" in page.inner_text("[data-testid=problems]")
        # The number as written, on one line however long the reason beside it.
        assert page.evaluate("""() => {
            const text = document.createRange();
            text.selectNodeContents(document.querySelector("[data-testid=problems] td code"));
            return new Set([...text.getClientRects()].map(box => Math.round(box.bottom))).size;
        }""") == 1
        thulium.state.hold()  # no answer until the page has shown the import under way
        page.click("[data-testid=confirm]")

        bar = page.locator("[data-testid=progress-bar]")
        assert int(bar.get_attribute("aria-valuenow")) < 100
        page.locator("[data-testid=cancel]").focus()  # the keyboard waits on Cancel
        thulium.state.release()
        page.wait_for_selector("[data-testid=progress-bar][aria-valuenow='100']", timeout=60_000)
        page.wait_for_selector("[data-testid=report]:visible")
        assert page.inner_text("[data-field=added]") == "60"
        assert page.locator("[data-testid=cancel]").is_hidden()
        # Cancel hidden, the keyboard is on the report's link, not lost at the page's top.
        assert page.evaluate("document.activeElement.dataset.testid") == "report"
    finally:
        workers.stop_all()

    job = ImportJob.objects.get()
    assert job.state == ImportJob.State.DONE
    assert job.rows.filter(state=RowState.ADDED).count() == 60
    sent = thulium.state.records("00001")
    assert len(sent) == 60
    # Sent in batches (tests.workers sets 10 rows a batch), none alone.
    posts = api_calls(thulium, "POST")
    assert [len(call["json"]["records"]) for call in posts] == [10] * 6
    assert {r["record_fields"]["miasto"] for r in sent} == {"Łódź"}
