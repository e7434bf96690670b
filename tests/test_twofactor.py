"""Two-factor login: setting up an authenticator app, logging in with its codes or a
recovery code, REQUIRE_2FA_FOR, and django-axes' lockout counting wrong codes."""

import base64
import csv
import io
import time

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import Entry
from tests.conftest import (
    ADMINISTRATORS,
    AUDITORS,
    EDITORS,
    PASSWORD,
    make_user,
    skip_unless_postgresql,
)
from tests.db_threads import posted_at_once
from twofactor import views
from twofactor.forms import AppCodeForm
from twofactor.pending import PENDING_SECONDS
from twofactor.services import totp_enrolment_confirm
from twofactor.verification import code_verify

LOGIN, CODE = "/accounts/login/", "/accounts/login/code/"
ENROL, MANAGE = "/accounts/two-factor/set-up/", "/accounts/two-factor/"


def code_at(device: TOTPDevice, offset_steps: int = 0) -> str:
    """The code an authenticator app holding the device's key shows, `offset_steps` from
    now, its steps counted as the device counts them (from its t0)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, drift=offset_steps)
    return f"{totp.token():06d}"


def enrolled(user) -> tuple[TOTPDevice, list[str]]:
    """The user with an app set up, and a time step just begun that is free for the test.

    The set-up takes the app's current code. Then the device counts its steps from this
    second on (t0), so that each code a test makes is checked in the step it was made in,
    not the next (a step is 30 s, and no test takes nearly as long), and the step before is
    the last one taken (last_t), as if the set-up had taken its code.
    """
    key = "3132333435363738393031323334353637383930"
    device, codes = totp_enrolment_confirm(user=user, key=key,
                                           code=code_at(TOTPDevice(key=key)))
    now = int(time.time())
    device.t0 = now % device.step
    # Had the step changed during the set-up, the app would look a step behind (drift).
    device.drift, device.last_t = 0, (now - device.t0) // device.step - 1
    device.save(update_fields=["t0", "drift", "last_t"])
    return device, codes


def log_in(client, username="manager"):
    return client.post(LOGIN, {"username": username, "password": PASSWORD},
                       REMOTE_ADDR="10.1.1.1")


def give_code(client, code):
    return client.post(CODE, {"code": code}, REMOTE_ADDR="10.1.1.1")


def test_setting_up_shows_a_qr_code_as_svg_and_turns_on_only_with_the_right_code(logged_in,
                                                                                user):
    page = logged_in.get(ENROL)
    qr = page.context["qr"]
    assert qr.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(qr.split(",", 1)[1]).startswith(b"<svg")
    assert f'src="{qr}"' in page.content.decode()
    key = logged_in.session["twofactor_enrolment_key"]
    # The device the portal makes of the key. Its current code is taken in this step or,
    # should the step change meanwhile, in the next (one step's tolerance).
    app = TOTPDevice(key=key)
    assert page.context["secret"].replace(" ", "") == base64.b32encode(
        bytes.fromhex(key)).decode()

    wrong = logged_in.post(ENROL, {"password": PASSWORD,
                                   "code": "000000" if code_at(app) != "000000" else "111111"})
    assert wrong.status_code == 200 and "This code is not right" in wrong.content.decode()
    assert "recovery codes" not in wrong.content.decode()  # none yet: they come once it is on
    assert not TOTPDevice.objects.exists()

    right = logged_in.post(ENROL, {"password": PASSWORD, "code": code_at(app)})
    assert right["Location"] == reverse("twofactor:recovery_codes")
    assert TOTPDevice.objects.get(user=user, confirmed=True).key == key
    codes = logged_in.get(right["Location"]).context["codes"]
    assert len(codes) == 10
    # Shown once only.
    assert logged_in.get(right["Location"])["Location"] == MANAGE
    entry = Entry.objects.get(kind="second-factor")
    assert entry.details == {"step": "enrolled", "account": "manager"}
    assert entry.actor == user


def test_setting_up_asks_for_the_password_and_wrong_ones_lock_the_login(client, user):
    """From a session left open, anyone could set up an app of their own, and the owner's
    next login asked for its code."""
    log_in(client)
    client.get(ENROL)
    code = code_at(TOTPDevice(key=client.session["twofactor_enrolment_key"]))
    assert client.post(ENROL, {"code": code}).context["form"].has_error("password")
    wrong = {"password": "Guessed-password-1", "code": code}
    answers = [client.post(ENROL, wrong, REMOTE_ADDR="10.2.2.2")
               for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert "This is not your password" in answers[0].content.decode()
    assert [answer.status_code for answer in answers] == (
        [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429])
    assert "_auth_user_id" not in client.session and not TOTPDevice.objects.exists()
    assert "Guessed-password-1" not in AccessAttempt.objects.get(ip_address="10.2.2.2").post_data
    assert log_in(client).status_code == 429


def test_a_set_up_the_login_forces_asks_the_password_again_only_once_it_is_old(client, db,
                                                                               settings):
    settings.REQUIRE_2FA_FOR = ["staff"]
    make_user("boss", is_staff=True)
    log_in(client, "boss")
    assert "password" not in client.get(ENROL).context["form"].fields
    session = client.session
    session["twofactor_password_typed_at"] -= PENDING_SECONDS + 1
    session.save()
    assert "password" in client.get(ENROL).context["form"].fields


def test_an_account_without_a_password_sets_it_up_at_its_identity_provider(client, user):
    user.set_unusable_password()
    user.save()
    client.force_login(user)
    page = client.get(ENROL)
    assert 'data-testid="at-provider"' in page.content.decode()
    client.post(ENROL, {"code": "123456"})
    assert not TOTPDevice.objects.exists()


def test_the_page_setting_it_up_sends_a_policy_that_allows_the_qr_and_no_script(logged_in):
    response = logged_in.get(ENROL)
    policy = dict(part.strip().split(" ", 1)
                  for part in response["Content-Security-Policy"].split(";"))
    assert "data:" in policy["img-src"].split()
    assert policy["script-src"] == "'self'" and "unsafe" not in response[
        "Content-Security-Policy"]
    body = response.content.decode()
    assert "<script>" not in body and " style=" not in body


def test_a_user_with_a_second_factor_gives_a_code_before_any_page(client, user):
    device, _codes = enrolled(user)
    answer = log_in(client)
    assert answer["Location"] == CODE
    assert "_auth_user_id" not in client.session
    assert client.get("/campaigns/")["Location"].startswith(LOGIN)

    logged = give_code(client, code_at(device))
    assert logged["Location"] == reverse(settings.LOGIN_REDIRECT_URL)
    assert client.get("/campaigns/").status_code == 200


def test_a_session_from_before_the_second_factor_was_set_up_must_log_in_again(client, user):
    client.force_login(user)
    enrolled(user)
    answer = client.get("/campaigns/")
    assert answer["Location"] == f"{LOGIN}?next=/campaigns/"
    assert "_auth_user_id" not in client.session
    # A form posted from a page goes back to that page after the login, not to its own
    # address, which takes only POSTs.
    client.force_login(user)
    posted = client.post("/campaigns/sync/", HTTP_REFERER="http://testserver/campaigns/requests/")
    assert posted["Location"] == f"{LOGIN}?next=/campaigns/requests/"


def test_a_replayed_code_is_refused_with_a_clear_message(client, user):
    device, _codes = enrolled(user)
    log_in(client)
    code = code_at(device)
    assert give_code(client, code).status_code == 302
    client.logout()
    log_in(client)
    again = give_code(client, code)
    assert again.status_code == 200
    assert "This code was used already" in again.content.decode()
    assert again.context["form"]["code"].value() == code
    assert "_auth_user_id" not in client.session


def test_a_code_out_of_its_window_is_refused_with_a_clear_message(client, user):
    device, _codes = enrolled(user)
    log_in(client)
    old = give_code(client, code_at(device, -5))
    assert "This code is not valid now" in old.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_recovery_code_logs_in_once(client, user):
    _device, codes = enrolled(user)
    log_in(client)
    assert give_code(client, codes[0].upper()).status_code == 302
    client.logout()
    log_in(client)
    assert "This code is not right" in give_code(client, codes[0]).content.decode()
    assert give_code(client, codes[1]).status_code == 302


def test_users_without_a_second_factor_log_in_as_before(client, user):
    assert log_in(client)["Location"] == reverse(settings.LOGIN_REDIRECT_URL)
    assert client.get("/campaigns/").status_code == 200


def test_repeated_wrong_codes_lock_the_login_like_wrong_passwords(client, user):
    device, _codes = enrolled(user)
    log_in(client)
    wrong = "000000" if code_at(device) != "000000" else "111111"
    answers = [give_code(client, wrong).status_code
               for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert answers == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    # Locked: the password alone no longer gets as far as the code.
    assert log_in(client).status_code == 429
    entry = Entry.objects.get(kind="second-factor", details__step="locked-out")
    assert entry.details["account"] == "manager" and entry.outcome == "refused"


@pytest.mark.django_db(transaction=True)
def test_wrong_codes_sent_at_once_get_no_more_checks_than_the_limit(monkeypatch):
    """Each passed the lockout before any was counted: 40 were checked against a limit of
    5 (PostgreSQL; two workers of four threads each answer at once in production)."""
    skip_unless_postgresql(connection)
    checked = []

    def code_verify_counted(**kwargs):
        checked.append(kwargs["code"])
        return code_verify(**kwargs)

    monkeypatch.setattr(views, "code_verify", code_verify_counted)
    device, _codes = enrolled(make_user("manager", EDITORS))
    client = Client()
    log_in(client)
    right = code_at(device)
    guesses = [code for code in (f"{n:06d}" for n in range(100000, 100013)) if code != right]
    statuses = posted_at_once(client, CODE, [{"code": code} for code in guesses],
                              REMOTE_ADDR="10.1.1.1")
    assert len(checked) == settings.AXES_FAILURE_LIMIT
    # The rest met the lockout page, or, begun once the lockout had dropped the login
    # waiting for its code, were sent to log in again.
    assert statuses.count(200) == settings.AXES_FAILURE_LIMIT - 1
    assert 429 in statuses and set(statuses) <= {200, 302, 429}


@pytest.mark.parametrize("required", ["staff", AUDITORS])
def test_required_users_are_sent_to_set_it_up_and_can_do_nothing_else(client, db, settings,
                                                                     required):
    settings.REQUIRE_2FA_FOR = ["staff", AUDITORS]
    groups = [] if required == "staff" else [AUDITORS]
    make_user("boss", *groups, is_staff=required == "staff")
    assert log_in(client, "boss")["Location"] == reverse(settings.LOGIN_REDIRECT_URL)
    for page in ["/campaigns/", "/audit/", MANAGE]:
        assert client.get(page)["Location"] == ENROL, page
    page = client.get(ENROL)
    assert 'data-testid="required"' in page.content.decode()
    app = TOTPDevice(key=client.session["twofactor_enrolment_key"])
    assert client.post(ENROL, {"code": code_at(app)}).status_code == 302
    assert client.get("/campaigns/").status_code == 200


def test_others_are_not_required_to_set_it_up(logged_in, settings):
    settings.REQUIRE_2FA_FOR = ["staff", AUDITORS]
    assert logged_in.get("/campaigns/").status_code == 200


def test_turning_it_off_needs_a_code_and_is_audited(client, user):
    device, _codes = enrolled(user)
    log_in(client)
    give_code(client, code_at(device))
    refused = client.post(reverse("twofactor:remove"), {"code": "12"})
    assert refused.status_code == 200 and TOTPDevice.objects.exists()
    # The login took this step's code: the app's next one is taken.
    client.post(reverse("twofactor:remove"), {"code": code_at(device, 1)})
    assert not TOTPDevice.objects.exists()
    assert Entry.objects.filter(kind="second-factor", details__step="removed").exists()


def test_new_recovery_codes_need_a_code_and_void_the_old_ones(client, user):
    """A session left open was enough to make codes of one's own and void the owner's."""
    device, old_codes = enrolled(user)
    log_in(client)
    give_code(client, code_at(device))
    refused = client.post(reverse("twofactor:recovery_codes_new"), {"renew-code": ""})
    assert refused.status_code == 200 and "renew-code" in refused.content.decode()
    assert client.post(reverse("twofactor:recovery_codes_new"),
                       {"renew-code": "123456"}).status_code == 200
    assert client.get(reverse("twofactor:recovery_codes")).status_code == 302  # none made
    made = client.post(reverse("twofactor:recovery_codes_new"),
                       {"renew-code": code_at(device, 1)})
    assert made["Location"] == reverse("twofactor:recovery_codes")
    new_codes = client.get(made["Location"]).context["codes"]
    assert set(new_codes).isdisjoint(old_codes)
    assert Entry.objects.filter(kind="second-factor", details__step="codes-renewed").exists()


@pytest.mark.parametrize(("action", "field"), [("twofactor:remove", "code"),
                                               ("twofactor:recovery_codes_new", "renew-code")])
def test_wrong_codes_turning_it_off_or_renewing_codes_lock_the_login_as_at_login(
        client, user, action, field):
    """A session left open was enough to guess the code without end, and then turn it off
    or void the owner's recovery codes."""
    device, old_codes = enrolled(user)
    log_in(client)
    give_code(client, code_at(device))
    other = Client()  # the owner's session elsewhere, logged in with a recovery code
    log_in(other)
    give_code(other, old_codes[0])
    right = code_at(device, 1)
    wrong = "000000" if right != "000000" else "111111"
    answers = [client.post(reverse(action), {field: wrong}, REMOTE_ADDR="10.2.2.2")
               for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert "This code is not right" in answers[0].content.decode()
    assert [answer.status_code for answer in answers] == (
        [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429])
    assert "_auth_user_id" not in client.session
    entry = Entry.objects.get(kind="second-factor", details__step="locked-out")
    assert entry.details["account"] == "manager" and entry.outcome == "refused"
    # Locked out: not even the right code does it, and the login is locked too.
    assert other.post(reverse(action), {field: right}).status_code == 429
    assert "_auth_user_id" not in other.session
    assert TOTPDevice.objects.filter(user=user).exists()
    assert set(old_codes[1:]) == set(StaticToken.objects.values_list("token", flat=True))
    assert log_in(client).status_code == 429
    assert wrong not in AccessAttempt.objects.get(ip_address="10.2.2.2").post_data


def test_an_administrator_resets_a_lost_second_factor(client, user):
    enrolled(user)
    admin = make_user("boss", is_staff=True, is_superuser=True)
    client.force_login(admin)
    client.post("/admin/auth/user/", {"action": "second_factor_reset",
                                      "_selected_action": [user.pk]})
    assert not TOTPDevice.objects.filter(user=user).exists()
    entry = Entry.objects.get(kind="second-factor", details__step="removed")
    assert entry.actor == admin and entry.details["account"] == "manager"
    # Its page says whose login it was and what was done to it.
    page = client.get(entry.get_absolute_url()).content.decode()
    assert 'data-testid="account">manager<' in page
    assert "Two-factor login turned off for manager" in page


def test_a_staff_session_left_open_neither_resets_its_own_second_factor_nor_password(
        client, db):
    """The portal asks for a code before turning two-factor login off and for the old
    password before changing it; the admin asked for neither on one's own account."""
    admin = make_user("boss", ADMINISTRATORS, is_staff=True)
    device, _codes = enrolled(admin)
    log_in(client, "boss")
    give_code(client, code_at(device))
    refused = client.post("/admin/auth/user/", {"action": "second_factor_reset",
                                                "_selected_action": [admin.pk]}, follow=True)
    assert TOTPDevice.objects.filter(user=admin).exists()
    assert "Your own two-factor login is not reset here" in refused.content.decode()
    password_page = reverse("admin:auth_user_password_change", args=[admin.pk])
    assert client.get(password_page).url == reverse("admin:password_change")
    answer = client.post(password_page, {"password1": "taken-Over-123",
                                         "password2": "taken-Over-123",
                                         "usable_password": "true"})
    assert answer.url == reverse("admin:password_change")
    assert User.objects.get(pk=admin.pk).check_password(PASSWORD)
    assert not Entry.objects.filter(details__step__in=["password-set", "removed"]).exists()
    # The page it points to asks for the current password.
    assert "old_password" in client.get(answer.url).content.decode()


def account_form(user, **changes) -> dict:
    """The admin's change form of `user` as posted, with `changes`."""
    values = {"username": user.username, "is_active": "on", "date_joined_0": "2026-01-01",
              "date_joined_1": "10:00:00",
              "groups": [group.pk for group in user.groups.all()], **changes}
    if user.is_staff:
        values["is_staff"] = "on"
    return values


def test_an_administrator_can_neither_raise_their_own_powers_nor_take_a_guarded_account(
        client, user):
    """An administrator ticked "superuser" and "Auditors" on their own account, and could
    set an auditor's password and reset their second factor."""
    admin = make_user("boss", ADMINISTRATORS, is_staff=True)
    auditor = make_user("audrey", AUDITORS)
    enrolled(auditor)
    auditors, editors = (Group.objects.get(name=name) for name in (AUDITORS, EDITORS))
    client.force_login(admin)
    client.post(reverse("admin:auth_user_change", args=[admin.pk]),
                account_form(admin, is_superuser="on", groups=[auditors.pk]))
    admin.refresh_from_db()
    assert not admin.is_superuser and not admin.groups.filter(pk=auditors.pk).exists()
    # Another account: a role, but not that of reading the whole trail.
    refused = client.post(reverse("admin:auth_user_change", args=[user.pk]),
                          account_form(user, groups=[auditors.pk]))
    assert refused.status_code == 200 and not user.groups.filter(pk=auditors.pk).exists()
    client.post(reverse("admin:auth_user_change", args=[user.pk]),
                account_form(user, groups=[editors.pk]))
    assert list(user.groups.all()) == [editors]
    # An auditor's account is looked at, not changed.
    assert client.post(reverse("admin:auth_user_password_change", args=[auditor.pk]), {
        "password1": "a-new-Pass-123", "password2": "a-new-Pass-123"}).status_code == 403
    client.post("/admin/auth/user/", {"action": "second_factor_reset",
                                      "_selected_action": [auditor.pk]})
    assert TOTPDevice.objects.filter(user=auditor).exists()
    assert client.get(reverse("admin:auth_user_change", args=[auditor.pk])).status_code == 200
    # A superuser may.
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    client.post(reverse("admin:auth_user_change", args=[user.pk]),
                account_form(user, groups=[auditors.pk]))
    assert user.groups.filter(pk=auditors.pk).exists()


def test_every_change_of_an_account_s_roles_or_password_in_the_admin_is_an_audit_entry(
        client, db):
    """Only Django's own admin log said who gave whom which role, or set whose password."""
    root = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(root)
    client.post(reverse("admin:auth_user_add"), {
        "username": "nowy", "password1": "a-new-Pass-123", "password2": "a-new-Pass-123",
        "usable_password": "true"})
    account = User.objects.get(username="nowy")
    editors = Group.objects.get(name=EDITORS)
    client.post(reverse("admin:auth_user_change", args=[account.pk]),
                account_form(account, groups=[editors.pk], is_staff="on"))
    no_longer_staff = account_form(User.objects.get(pk=account.pk), groups=[editors.pk])
    del no_longer_staff["is_staff"]
    client.post(reverse("admin:auth_user_change", args=[account.pk]), no_longer_staff)
    client.post(reverse("admin:auth_user_password_change", args=[account.pk]), {
        "password1": "another-Pass-456", "password2": "another-Pass-456",
        "usable_password": "true"})
    client.post(reverse("admin:auth_user_password_change", args=[account.pk]), {
        "password1": "x", "password2": "y", "usable_password": "true"})  # refused: none
    client.post(reverse("admin:auth_user_delete", args=[account.pk]), {"post": "yes"})
    entries = Entry.objects.filter(kind="account").order_by("begin_seq")
    assert [(entry.actor, entry.details) for entry in entries] == [
        (root, {"account": "nowy", "step": "created", "flags": {"is_active": True}}),
        (root, {"account": "nowy", "step": "changed", "gained": [EDITORS],
                "flags": {"is_staff": True}}),
        (root, {"account": "nowy", "step": "changed", "flags": {"is_staff": False}}),
        (root, {"account": "nowy", "step": "password-set"}),
        (root, {"account": "nowy", "step": "deleted", "lost": [EDITORS]}),
    ]
    page = client.get(entries[1].get_absolute_url()).content.decode()
    assert 'data-testid="flags">staff status on<' in page
    timeline = client.get(reverse("audit:timeline")).content.decode()
    assert "roles of nowy changed; gained Campaign editors; staff status on" in timeline


def test_a_permission_given_or_taken_directly_in_the_admin_is_an_audit_entry(client, db):
    """Giving `audit.view_audit_trail` on the user form made a full auditor with no entry:
    only groups and switches were compared."""
    root = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(root)
    account = make_user("nowy", EDITORS)
    trail = Permission.objects.get(codename="view_audit_trail")
    client.post(reverse("admin:auth_user_change", args=[account.pk]),
                account_form(account, user_permissions=[trail.pk]))
    client.post(reverse("admin:auth_user_change", args=[account.pk]), account_form(account))
    entries = Entry.objects.filter(kind="account").order_by("begin_seq")
    assert [entry.details for entry in entries] == [
        {"account": "nowy", "step": "changed", "permissions_gained": ["audit.view_audit_trail"]},
        {"account": "nowy", "step": "changed", "permissions_lost": ["audit.view_audit_trail"]},
    ]
    page = client.get(entries[0].get_absolute_url()).content.decode()
    assert ('data-testid="permissions-gained"><div>Can see everyone&#x27;s actions in the '
            'audit trail <code>audit.view_audit_trail</code></div><') in page
    timeline = client.get(reverse("audit:timeline")).content.decode()
    assert ("roles of nowy changed; gained permission Can see everyone&#x27;s actions in the "
            "audit trail") in timeline
    export = client.get(reverse("audit:export_csv"), {"kind": "account"})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode()
                                           .lstrip("\ufeff")), delimiter=";"))
    assert [(row["permissions_gained"], row["permissions_lost"]) for row in rows] == [
        ("", '["audit.view_audit_trail"]'), ('["audit.view_audit_trail"]', "")]


def test_the_list_s_delete_action_refuses_an_account_an_administrator_may_not_manage(
        client, db):
    admin = make_user("boss", ADMINISTRATORS, is_staff=True)
    loader, auditor = make_user("loader"), make_user("audrey", AUDITORS)
    client.force_login(admin)
    refused = client.post("/admin/auth/user/", {"action": "delete_selected", "post": "yes",
                                                "_selected_action": [loader.pk, auditor.pk]})
    assert refused.status_code == 403
    assert User.objects.filter(pk__in=[loader.pk, auditor.pk]).count() == 2


def test_logins_of_another_account_do_not_clear_the_wrong_codes_given_for_this_one(client,
                                                                                   user):
    device, _codes = enrolled(user)
    make_user("mallory")
    wrong = "000000" if code_at(device) != "000000" else "111111"
    log_in(client)
    answers = [give_code(client, wrong).status_code for _ in range(3)]
    assert log_in(client, "mallory").status_code == 302  # from the same address
    client.post("/accounts/logout/", REMOTE_ADDR="10.1.1.1")
    log_in(client)
    answers += [give_code(client, wrong).status_code for _ in range(2)]
    assert answers == [200] * 4 + [429]


@pytest.mark.parametrize("typed", ["abc", "12345", "abcdef12", "1234567"])
def test_setting_up_asks_for_the_app_s_six_digits_not_a_recovery_code(typed):
    """"Type the six digits, or a recovery code." was shown where no recovery code exists
    yet."""
    form = AppCodeForm({"code": typed})
    assert form.errors["code"] == ["Type the six digits your authenticator app shows."]
    assert AppCodeForm({"code": "123 456"}).is_valid()
