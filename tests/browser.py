"""Real Chromium for end-to-end tests, through Playwright, or a clear reason why not."""

import os
import shutil

import pytest
from django.db import connections

CHROMIUM = "/usr/bin/chromium"
# Without these, Chromium tries to reach Google's hosts, which a closed network refuses.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _unavailable_reason() -> str | None:
    if not shutil.which(CHROMIUM):
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed"
    return None


class _Chromium:
    """Playwright's driver and Chromium, kept from one browser test to the next while they
    run one after the other: they take some 2 s to start, a fresh context for a test
    (browser_page) a fraction of that. Stopped after the last of them, before anything of
    the next test runs: while Playwright runs, its event loop runs in this thread, and
    asgiref's async_to_sync refuses to run beside it."""

    def __init__(self):
        self.playwright = self.browser = None
        self.in_use = False  # by a test's chromium fixture, which stops it unless kept
        self.kept = False

    def next_test(self, *, uses_it: bool) -> None:
        """Before a test's teardown (tests/conftest.py): keep Chromium for the next test, or
        have it stopped by this test's chromium fixture, or now if it has none."""
        self.kept = uses_it
        if not uses_it and not self.in_use:
            self.stop()

    def start(self):
        if self.browser is not None and not self.browser.is_connected():  # it crashed
            self.stop()
        if self.browser is None:
            from playwright.sync_api import sync_playwright

            # The ORM calls the tests make between steps are still plain synchronous code.
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
            self.playwright = sync_playwright().start()
            try:
                self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM,
                                                              args=CHROMIUM_ARGS)
            except BaseException:
                self.playwright.stop()
                self.playwright = None
                raise
        return self.browser

    def stop(self):
        if self.browser is None:
            return
        self.browser.close()
        # While Playwright's event loop runs, Django keeps the tests' database connections
        # apart from the thread's own: close them, or the test database cannot be dropped.
        connections.close_all()
        self.playwright.stop()
        self.playwright = self.browser = None


CHROMIUM_RUN = _Chromium()


@pytest.fixture
def chromium():
    """Real Chromium, shared with the browser tests just before and after this one (see
    _Chromium); skips with the reason, except under CI where it fails. tests/conftest.py
    imports it, for the fixtures the modules import from here."""
    reason = _unavailable_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    browser = CHROMIUM_RUN.start()
    CHROMIUM_RUN.in_use = True
    yield browser
    CHROMIUM_RUN.in_use = False
    if not CHROMIUM_RUN.kept:
        CHROMIUM_RUN.stop()


@pytest.fixture
def browser_page(chromium, live_server):
    """A fresh page in real Chromium, in a context of its own: no cookie, storage or cache
    of an earlier test."""
    yield from _page(chromium, live_server)


@pytest.fixture
def another_browser_page(chromium, live_server):
    """A second person's page, beside browser_page's: cookies and storage of its own."""
    yield from _page(chromium, live_server)


@pytest.fixture
def polish_browser_page(chromium, live_server):
    """Like browser_page, in a browser whose language is Polish (Accept-Language: pl-PL)."""
    yield from _page(chromium, live_server, locale="pl-PL")


def log_in(page, username: str, *, button: str = "Log in") -> None:
    """Fill the login form the page shows (any page sends there first) and send it."""
    from tests.conftest import PASSWORD

    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click(f"button[type=submit]:has-text('{button}')")


def open_user_menu(page) -> None:
    """Open the menu under the username: password, two-factor login, e-mails, log out."""
    page.click("[data-testid=username]")


def policy_breaks(page) -> list[str]:
    """The Content-Security-Policy violations the page reports from now on (a list that fills)."""
    breaks = []
    page.on("console", lambda message: breaks.append(message.text)
            if "Content Security Policy" in message.text else None)
    return breaks


def _page(chromium, live_server, **context_options):
    context = chromium.new_context(base_url=live_server.url, **context_options)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()
