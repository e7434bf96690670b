"""Two-factor login in real Chromium: set it up from the QR page's key, log out, log in
with the password and a code, and the page breaks no rule of its security policy."""

import base64

import pytest
from django_otp.oath import hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.browser import browser_page, log_in, open_user_menu, policy_breaks  # noqa: F401
from tests.conftest import PASSWORD
from tests.test_twofactor import code_at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_sets_up_an_authenticator_app_and_logs_in_with_its_code(
    browser_page, user  # noqa: F811
):
    page = browser_page
    breaks = policy_breaks(page)
    page.goto("/campaigns/")
    log_in(page, user.username)

    open_user_menu(page)
    page.click("text=Two-factor login")
    page.click("text=Set up two-factor login")
    # The QR code is drawn: an SVG image the browser decoded.
    assert page.locator("[data-testid=qr]").evaluate("img => img.naturalWidth") > 0
    secret = page.inner_text("[data-testid=secret]").replace(" ", "")
    # The app's current code: taken in this time step or, should the step change
    # meanwhile, in the next (one step's tolerance).
    app = TOTPDevice(key=base64.b32decode(secret).hex())
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=code]", code_at(app))
    page.click("button[type=submit]:has-text('Turn on two-factor login')")
    assert page.locator("[data-testid=recovery-codes] li").count() == 10

    open_user_menu(page)
    page.click("button:has-text('Log out')")
    log_in(page, user.username)
    # The app's next code, that of the step after the one the set-up took (last_t): that
    # one cannot be taken twice. It is taken until a step after the set-up's, also when
    # the set-up's code came a step late and the device counts the app behind (drift).
    device = TOTPDevice.objects.get(user=user)
    page.fill("input[name=code]", f"{hotp(device.bin_key, device.last_t + 1):06d}")
    page.click("button[type=submit]:has-text('Log in')")
    page.wait_for_url("**/campaigns/")
    assert page.inner_text("[data-testid=username]") == user.username
    assert breaks == []
