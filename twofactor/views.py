"""The second step of a login, and the page where a user sets up or removes their second
factor: an authenticator app (TOTP, scanned from a QR code) and one-time recovery codes."""

from base64 import b32encode
from binascii import unhexlify

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from portal.login_throttling import (
    answers_checked_in_turn,
    locked_out_logs_out,
    lockout_page,
    login_failure_count,
)

from .forms import AppCodeForm, CodeForm, PasswordAppCodeForm
from .password_typed import password_typed_lately, password_typed_record
from .pending import pending_login, pending_login_drop, pending_login_finish, pending_login_start
from .policy import has_second_factor, second_factor_required
from .qr import qr_svg_data_uri
from .services import (
    recovery_codes_left,
    recovery_codes_renew,
    second_factor_lockout_record,
    second_factor_remove,
    totp_enrolment_confirm,
)
from .verification import CodeRefused, code_verify

# The secret of an app being set up, until a code confirms it; then the recovery codes,
# until the one page that shows them has.
ENROLMENT_KEY, NEW_CODES = "twofactor_enrolment_key", "twofactor_new_codes"
RENEW = "renew"  # the prefix of the code asked for new recovery codes


class PasswordLoginView(LoginView):
    """Django's login, which stops halfway for a user with a second factor."""

    def form_valid(self, form):
        user = form.get_user()
        if not has_second_factor(user):
            response = super().form_valid(form)
            password_typed_record(self.request)
            return response
        pending_login_start(self.request, user=user, redirect_to=self.get_success_url())
        return redirect("twofactor:code")


@login_not_required
@sensitive_post_parameters("code")
@never_cache
def login_code(request):
    pending = pending_login(request)
    if pending is None:
        messages.info(request, _("Log in again: the login waiting for a code has ended."))
        return redirect("login")
    form = CodeForm(request.POST or None)
    with answers_checked_in_turn(pending.user):
        locked = lockout_page(request, user=pending.user)
        if locked is not None:
            pending_login_drop(request)
            return locked
        if request.method == "POST" and form.is_valid():
            try:
                device = code_verify(user=pending.user, code=form.cleaned_data["code"])
            except CodeRefused as refusal:
                form.add_error("code", refusal.message)
                if _code_refused(request, user=pending.user):
                    # AxesMiddleware answers with the lockout page.
                    pending_login_drop(request)
            else:
                pending_login_finish(request, pending, device)
                return redirect(pending.redirect_to)
    return render(request, "twofactor/login_code.html", {"form": form, "pending": pending})


def manage(request):
    return _manage_page(request)


def _manage_page(request, form=None, renew_form=None):
    """The page's two forms that ask for a code: turning it off, making new recovery
    codes (prefixed, so that each shows its own errors)."""
    user = request.user
    return render(request, "twofactor/manage.html", {
        "device": TOTPDevice.objects.filter(user=user, confirmed=True).first(),
        "required": second_factor_required(user),
        "codes_left": recovery_codes_left(user),
        "form": form or CodeForm(autofocus=False),
        "renew_form": renew_form or CodeForm(autofocus=False, prefix=RENEW),
    })


@sensitive_post_parameters("code", "password")
@never_cache
@locked_out_logs_out
def enrol(request):
    """Setting up asks for the password, as turning it off asks for a code, but not when
    the login that just took it forces the set-up (REQUIRE_2FA_FOR)."""
    user = request.user
    if has_second_factor(user):
        return redirect("twofactor:manage")
    if not user.has_usable_password():
        # Signed on by the identity provider, which asks for its own second factor: no
        # password here shows that the session's user is the account's owner.
        return render(request, "twofactor/enrol_at_provider.html")
    key = request.session.setdefault(ENROLMENT_KEY, default_key())
    required = second_factor_required(user)
    if required and password_typed_lately(request):
        form = AppCodeForm(request.POST or None)
    else:
        form = PasswordAppCodeForm(request.POST or None, user=user)
    if form.has_error("password", "password_incorrect"):
        login_failure_count(request, user=user)
    elif request.method == "POST" and form.is_valid():
        try:
            device, codes = totp_enrolment_confirm(user=user, key=key,
                                                   code=form.cleaned_data["code"])
        except CodeRefused as refusal:
            form.add_error("code", refusal.message)
        else:
            del request.session[ENROLMENT_KEY]
            otp_login(request, device)
            request.session[NEW_CODES] = codes
            messages.success(request, _("Two-factor login is on."))
            return redirect("twofactor:recovery_codes")
    secret = b32encode(unhexlify(key)).decode("ascii")
    return render(request, "twofactor/enrol.html", {
        "form": form,
        "required": required,
        "qr": qr_svg_data_uri(TOTPDevice(user=user, key=key).config_url),
        "secret": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
    })


@never_cache
def recovery_codes(request):
    codes = request.session.pop(NEW_CODES, None)
    if not codes:
        messages.info(request, _("Recovery codes are shown only once. If you lost them, "
                                 "make new ones."))
        return redirect("twofactor:manage")
    return render(request, "twofactor/recovery_codes.html", {"codes": codes})


@require_POST
@sensitive_post_parameters(f"{RENEW}-code")
@locked_out_logs_out
def recovery_codes_new(request):
    """New recovery codes ask for a code, as turning it off does: with a session left
    open, anyone could have made codes of their own and voided the owner's."""
    if not has_second_factor(request.user):
        return redirect("twofactor:manage")
    form = CodeForm(request.POST, autofocus=False, prefix=RENEW)
    if _code_given(request, form):
        request.session[NEW_CODES] = recovery_codes_renew(user=request.user)
        return redirect("twofactor:recovery_codes")
    return _manage_page(request, renew_form=form)


@require_POST
@sensitive_post_parameters("code")
@locked_out_logs_out
def remove(request):
    """Turning it off asks for a code: a session left open is not enough."""
    form = CodeForm(request.POST, autofocus=False)
    if _code_given(request, form):
        second_factor_remove(user=request.user, actor=request.user)
        messages.success(request, _("Two-factor login is off."))
        return redirect("twofactor:manage")
    return _manage_page(request, form)


def _code_given(request, form: CodeForm) -> bool:
    """Whether the form holds a right code of the user's; if not, it says why, and the
    wrong code counts as at the login's code step."""
    if not form.is_valid():
        return False
    try:
        code_verify(user=request.user, code=form.cleaned_data["code"])
    except CodeRefused as refusal:
        form.add_error("code", refusal.message)
        _code_refused(request, user=request.user)
        return False
    return True


def _code_refused(request, *, user) -> bool:
    """Count a wrong code like a wrong password (django-axes, against the same account
    name); True if it locked the login out, which is then recorded."""
    locked = login_failure_count(request, user=user)
    if locked:
        second_factor_lockout_record(user=user)
    return locked
