"""Single sign-on in real Chromium through a real OpenID Connect provider (tests/oidc.py):
sign on, the claim's groups become portal groups, logging out ends the provider's session
too, and a group taken away at the provider is lost at the next sign-on; no step breaks a
rule of the portal's security policy."""

import pytest
from django.contrib.auth.models import User

from tests.browser import browser_page, open_user_menu, policy_breaks  # noqa: F401
from tests.conftest import AUDITORS, EDITORS
from tests.oidc import PROVIDER_NAME, start_provider, use_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser_provider(live_server):
    yield from start_provider(live_server.url)


@pytest.fixture
def provider(browser_provider, settings):
    browser_provider.reset()
    use_provider(settings, browser_provider)
    return browser_provider


def sign_in_at_the_provider(page, login: str) -> None:
    page.click(f"text=Sign in with {PROVIDER_NAME}")
    # The provider's own login form (oidc-provider's development one takes any password).
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any")
    page.click("button:has-text('Sign-in')")


def groups_of(username: str) -> set[str]:
    return set(User.objects.get(username=username).groups.values_list("name", flat=True))


def test_a_person_signs_on_logs_out_everywhere_and_loses_a_role_taken_away(
    browser_page, provider  # noqa: F811
):
    page = browser_page
    breaks = policy_breaks(page)
    provider.set_account("carol", groups=["cc-editors", "cc-audit"])

    page.goto("/campaigns/")
    sign_in_at_the_provider(page, "carol")
    page.wait_for_url("**/campaigns/")
    assert page.inner_text("[data-testid=username]") == "carol"
    assert groups_of("carol") == {EDITORS, AUDITORS}

    # Taken out of the company's audit group; the portal learns it at the next sign-on.
    provider.set_account("carol", groups=["cc-editors"])
    open_user_menu(page)
    page.click("button:has-text('Log out')")
    page.click("button:has-text('Yes, sign me out')")
    page.wait_for_url("**/accounts/login/")
    assert groups_of("carol") == {EDITORS, AUDITORS}

    # The provider's session ended too: it asks carol to sign in again.
    sign_in_at_the_provider(page, "carol")
    page.wait_for_url("**/campaigns/")
    assert groups_of("carol") == {EDITORS}
    page.goto("/audit/")
    assert "sign-on of carol; lost Auditors" in page.inner_text("main")
    assert breaks == []
