"""E-mail notices, received by a real SMTP server: who gets which, in their language,
with a link to the page; a refusing server delays them and never fails the action."""

import logging
import smtplib
import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from audit.models import ChainCheck
from audit.verify import chain_check_if_due
from campaigns import bulk
from campaigns.due import due_changes_apply
from campaigns.four_eyes import change_request_reject
from campaigns.models import Campaign, ChangeRequest, ScheduledChange
from campaigns.notices import DECIDED_FIRST
from campaigns.scheduling import change_schedule, scheduled_change_cancel
from imports.models import ImportJob
from imports.services import import_cancel, import_confirm
from notices.models import Notice, OptOut, UserLanguage
from notices.sending import TURNED_OFF, notice_message, notices_purge, notices_send_due
from notices.services import language_of
from tests.audit_fixtures import change, tamper
from tests.conftest import ADMINISTRATORS, EDITORS, LATE, LOADERS, PASSWORD, make_user
from tests.db_threads import closing
from tests.import_files import csv_bytes, people, previewed
from tests.smtp import smtp_start
from tests.test_bulk_change import CONFIRM, token_of
from tests.test_bulk_change import preview as bulk_preview
from tests.test_four_eyes import edit
from tests.test_twofactor import account_form
from tests.workers import DB_BACKEND, Workers, wait_until

PORTAL = "https://portal.example.com"


@pytest.fixture(scope="session")
def smtp_server():
    controller, inbox = smtp_start()
    yield inbox
    controller.stop()


@pytest.fixture
def inbox(smtp_server, settings):
    """The server's inbox, emptied, and the portal's mail pointed at the server."""
    smtp_server.received.clear()
    smtp_server.refusal = smtp_server.recipient_refusal = ""
    smtp_server.hold = None
    smtp_server.held.clear()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "portal@example.com"
    settings.PORTAL_URL = PORTAL
    settings.FOUR_EYES = True
    return smtp_server


def choose_language(user, language):
    """The user picks a language with the portal's switcher."""
    client = Client()
    client.force_login(user)
    assert client.post(reverse("set_language"), {"language": language}).status_code == 302


def mails_to(inbox, address):
    return [mail for mail in inbox.received if mail["X-Envelope-To"] == address]


def subject(mail) -> str:
    """The subject as a mail client shows it (Django folds a long encoded one)."""
    return mail["Subject"].strip()


def content(mail) -> str:
    return mail.get_content().replace("\r\n", "\n")


def link_in(mail) -> str:
    return next(line for line in content(mail).splitlines() if line.startswith(PORTAL))


def written(moment, language: str) -> str:
    """A time set to the minute as a mail in `language` writes it: the portal's zone."""
    with translation.override(language):
        return date_format(timezone.localtime(moment),
                           {"en": "j N Y, H:i", "pl": "j E Y, H:i"}[language])


@pytest.fixture
def approvers(db):
    first = make_user("anna", EDITORS, email="anna@example.com")
    second = make_user("bob", EDITORS, email="bob@example.com")
    make_user("no-address", EDITORS)
    choose_language(first, "pl")
    return first, second


@pytest.fixture
def requested(inbox, approvers, logged_in, user, campaigns):
    """The manager asks to switch campaign 00001 to predictive dialing."""
    user.email = "manager@example.com"
    user.save()
    response = edit(logged_in, campaigns["00001"], dialer="predictive",
                    reason="More calls in the season")
    assert response.status_code == 302
    return ChangeRequest.objects.get()


@pytest.fixture
def requested_for_later(inbox, approvers, logged_in, user, campaigns):
    """The manager asks to switch campaign 00001 to predictive dialing in two hours."""
    user.email = "manager@example.com"
    user.save()
    response = edit(logged_in, campaigns["00001"], dialer="predictive", reason="From ten",
                    apply_at=(timezone.localtime() + timedelta(hours=2)).strftime(
                        "%Y-%m-%dT%H:%M"))
    assert response.status_code == 302
    return ChangeRequest.objects.get()


def approve(change_request, approver) -> None:
    client = Client()
    client.force_login(approver)
    assert client.post(reverse("campaigns:request_approve", args=[change_request.pk])
                       ).status_code == 302


def test_a_waiting_request_mails_each_approver_in_their_language(requested, inbox):
    assert notices_send_due() == 2
    link = f"{PORTAL}/campaigns/requests/{requested.pk}/"
    anna, = mails_to(inbox, "anna@example.com")
    assert anna["Content-Language"] == "pl"
    assert subject(anna) == "Zmiana kampanii Sprzedaż OZE 2026 czeka na Twoje zatwierdzenie"
    assert link_in(anna) == link
    bob, = mails_to(inbox, "bob@example.com")
    assert bob["Content-Language"] == "en"
    assert subject(bob) == "A change to campaign Sprzedaż OZE 2026 waits for your approval"
    assert link_in(bob) == link
    assert bob["From"] == "portal@example.com"
    # RFC 3834: answered by no out-of-office reply.
    assert anna["Auto-Submitted"] == bob["Auto-Submitted"] == "auto-generated"
    # Not the requester, nobody without an address; nothing is sent twice.
    assert len(inbox.received) == 2 and notices_send_due() == 0


def test_an_editor_who_manages_the_requester_s_account_is_not_asked_to_approve(
        inbox, approvers, logged_in, user, campaigns):
    """The portal lets them neither decide (AccountsLinked) nor count the request, and the
    mail told them "You may approve or reject it"."""
    boss = make_user("boss", ADMINISTRATORS, EDITORS, is_staff=True, email="boss@example.com")
    as_boss = Client()
    as_boss.force_login(boss)
    assert as_boss.post(reverse("admin:auth_user_change", args=[user.pk]),
                        account_form(user, email="manager@example.com")).status_code == 302
    assert edit(logged_in, campaigns["00001"], dialer="predictive",
                reason="Season").status_code == 302
    notices_send_due()
    assert sorted(mail["X-Envelope-To"] for mail in inbox.received) == [
        "anna@example.com", "bob@example.com"]


@pytest.mark.django_db(transaction=True)  # the bulk change's PUTs run in threads of their own
def test_a_risky_change_to_several_campaigns_mails_each_approver_once(inbox, approvers,
                                                                      logged_in, campaigns):
    """A request per campaign made a mail per campaign: a change to 500 campaigns mailed
    each approver 500 times."""
    token = token_of(bulk_preview(logged_in, caller_id="221112233", active="unknown",
                                  reason="Season"))
    outcomes = logged_in.post(CONFIRM, {"preview": token}).context["outcomes"]
    assert [outcome.state for outcome in outcomes] == ["requested"] * 3
    logged_in.post(CONFIRM, {"preview": token})  # confirmed twice: the same requests
    assert notices_send_due() == 2
    bob, = mails_to(inbox, "bob@example.com")
    assert subject(bob) == "A change to 3 campaigns waits for your approval"
    assert link_in(bob) == f"{PORTAL}/campaigns/requests/"


@pytest.mark.django_db(transaction=True)  # the bulk change's PUTs run in threads of their own
def test_the_approvers_of_a_change_to_several_campaigns_are_told_before_its_puts_are_answered(
    inbox, approvers, logged_in, campaigns, thulium, monkeypatch, settings
):
    """They were told once every PUT had ended, which may take most of the web worker's
    time limit: a process killed meanwhile (a deploy, out of memory) left the requests made
    waiting, mailed to no one."""
    settings.THULIUM_TIMEOUT = LATE  # the held PUT waits for the test's look, however slow
    token = token_of(bulk_preview(logged_in, campaigns=["A7K2Q", "00001"], active="true",
                                  order="3", reason="Season"))
    read = bulk.campaigns_read

    def read_then_hold(*args, **kwargs):
        found = read(*args, **kwargs)
        thulium.state.hold()  # the PUTs unanswered until the test has looked
        return found

    monkeypatch.setattr(bulk, "campaigns_read", read_then_hold)
    put_received = threading.Event()
    log_request = thulium.state.log_request

    def log_and_signal(request):
        log_request(request)
        if request["method"] == "PUT":
            put_received.set()

    monkeypatch.setattr(thulium.state, "log_request", log_and_signal)
    told_while_put_held = []

    def look_then_release():
        try:
            put_received.wait(timeout=60)
            told_while_put_held.extend(Notice.objects.filter(
                kind="change-request-waiting").values_list("user__username", flat=True))
        finally:
            thulium.state.release()

    looking = threading.Thread(target=closing(look_then_release))
    looking.start()
    outcomes = logged_in.post(CONFIRM, {"preview": token}).context["outcomes"]
    looking.join()
    assert put_received.is_set()
    assert [(o.campaign.thulium_id, o.state) for o in outcomes] == [
        ("A7K2Q", "requested"), ("00001", "succeeded")]
    assert sorted(told_while_put_held) == ["anna", "bob"]


@pytest.mark.parametrize("fault, expected", [
    (None, "Your change to campaign Sprzedaż OZE 2026 was approved and applied"),
    ("refuse", "Your change to campaign Sprzedaż OZE 2026 was approved, but Thulium refused it"),
])
def test_the_requester_hears_whether_the_approved_change_was_applied(
    requested, inbox, approvers, thulium, fault, expected
):
    notices_send_due()
    inbox.received.clear()
    if fault:
        thulium.state.fail_next(fault, path="/api/outbounds/00001")  # the PUT, not the read
    approve(requested, approvers[1])
    assert notices_send_due() == 1
    mail, = inbox.received
    assert mail["X-Envelope-To"] == "manager@example.com"
    assert subject(mail) == expected
    assert link_in(mail) == f"{PORTAL}/campaigns/requests/{requested.pk}/"


def test_the_requester_hears_that_an_approved_scheduled_change_waits_for_its_time(
    requested_for_later, inbox, approvers
):
    assert requested_for_later.apply_at is not None
    notices_send_due()
    inbox.received.clear()
    approve(requested_for_later, approvers[1])
    assert notices_send_due() == 1
    mail, = inbox.received
    assert subject(mail) == ("Your change to campaign Sprzedaż OZE 2026 was approved and "
                             "waits for its time")
    assert f"sends the change to Thulium at {written(requested_for_later.apply_at, 'en')}, " in (
        " ".join(content(mail).split()))


def test_the_approvers_of_a_request_with_a_time_read_the_time_in_their_language(
        requested_for_later, inbox):
    """Neither "waits for your approval" nor "approved and waits for its time" said when
    the change was set for."""
    notices_send_due()
    for address, language in (("anna@example.com", "pl"), ("bob@example.com", "en")):
        mail, = mails_to(inbox, address)
        assert written(requested_for_later.apply_at, language) in " ".join(
            content(mail).split())


def scheduled_change_ends(scheduled, end: str, *, thulium, settings, editor) -> None:
    """The change ends as `end` says: cancelled by `editor`, missed (no worker ran in its
    grace), cancelled by the worker (its campaign gone from Thulium), refused by Thulium,
    or sent ("due")."""
    if end == "cancelled":
        scheduled_change_cancel(scheduled=scheduled, actor=editor, reason="Not today")
        return
    late = timedelta(minutes=settings.SCHEDULE_GRACE_MINUTES + 1 if end == "missed" else 0)
    ScheduledChange.objects.update(apply_at=timezone.now() - late - timedelta(seconds=1))
    if end == "not in Thulium":
        Campaign.objects.update(in_thulium=False)
    if end == "refused":
        thulium.state.fail_next("refuse")
    due_changes_apply()


@pytest.mark.parametrize("end, said", [
    ("due", "was approved and applied"),
    ("refused", "was approved, but Thulium refused it"),
    ("cancelled", "was approved, but cancelled before its time"),
    ("missed", "was approved, but not sent in time"),
    ("not in Thulium", "was approved, but the portal did not send it"),
])
def test_the_requester_hears_how_an_approved_scheduled_change_ended_at_its_time(
    requested_for_later, inbox, approvers, thulium, settings, end, said
):
    approve(requested_for_later, approvers[1])
    notices_send_due()
    inbox.received.clear()
    scheduled_change_ends(ScheduledChange.objects.get(), end, thulium=thulium,
                          settings=settings, editor=approvers[1])
    assert notices_send_due() == 1
    mail, = mails_to(inbox, "manager@example.com")
    assert subject(mail) == f"Your change to campaign Sprzedaż OZE 2026 {said}"
    if end == "not in Thulium":
        assert "did not send it to Thulium at its time: Not sent: the campaign" in " ".join(
            content(mail).split())


@pytest.fixture
def scheduled_by_manager(inbox, user, campaigns) -> ScheduledChange:
    """The manager renames campaign 00001 in an hour (no approval needed)."""
    user.email = "manager@example.com"
    user.save()
    return change_schedule(campaign=campaigns["00001"], changes={"name": "Zima"}, actor=user,
                           reason="", apply_at=timezone.now() + timedelta(hours=1))


@pytest.mark.parametrize("end, said, why", [
    ("missed", "was not sent in time", "Schedule it again if it is still wanted."),
    ("cancelled", "was cancelled", "was cancelled by bob before its time"),
    ("not in Thulium", "was not sent",
     "Not sent: the campaign is no longer in Thulium's list of campaigns."),
])
def test_the_author_of_a_scheduled_change_not_made_hears_how_it_ended_and_why(
        scheduled_by_manager, inbox, approvers, thulium, settings, end, said, why):
    """Only a change Thulium refused or that failed was told: one missed, cancelled by
    another editor or by the worker reached no one."""
    scheduled_change_ends(scheduled_by_manager, end, thulium=thulium, settings=settings,
                          editor=approvers[1])
    assert notices_send_due() == 1
    mail, = mails_to(inbox, "manager@example.com")
    assert subject(mail) == f"Your scheduled change to campaign Sprzedaż OZE 2026 {said}"
    assert why in " ".join(content(mail).split())
    assert link_in(mail) == f"{PORTAL}/campaigns/scheduled/{scheduled_by_manager.pk}/"


def test_the_worker_s_reason_for_not_sending_a_change_is_in_its_author_s_language(
        scheduled_by_manager, inbox, thulium, settings, user):
    choose_language(user, "pl")
    scheduled_change_ends(scheduled_by_manager, "not in Thulium", thulium=thulium,
                          settings=settings, editor=None)
    notices_send_due()
    mail, = inbox.received
    assert "Nie wysłano: kampanii nie ma już na liście kampanii w Thulium." in content(mail)


@pytest.mark.parametrize("approved", [False, True], ids=["plain", "approved"])
def test_an_author_who_cancels_their_own_scheduled_change_is_not_mailed_of_it(
        request, approvers, user, approved):
    """An approved one's requester was told that they had cancelled it."""
    if approved:
        approve(request.getfixturevalue("requested_for_later"), approvers[1])
        scheduled = ScheduledChange.objects.get()
    else:
        scheduled = request.getfixturevalue("scheduled_by_manager")
    told = Notice.objects.filter(user=user).count()
    scheduled_change_cancel(scheduled=scheduled, actor=user, reason="Not today")
    assert Notice.objects.filter(user=user).count() == told


def test_a_user_who_lost_their_role_gets_no_mail_they_could_not_turn_off(
        requested_for_later, approvers, user):
    """The requester, no longer an editor, was mailed how their change ended, and their
    settings page offered no switch for such mails."""
    approve(requested_for_later, approvers[1])
    user.groups.clear()  # the requester may no longer change campaigns
    ScheduledChange.objects.update(apply_at=timezone.now() - timedelta(seconds=1))
    due_changes_apply()
    assert ScheduledChange.objects.get().state == ScheduledChange.State.CANCELLED
    assert not Notice.objects.filter(user=user, kind="change-request-decided",
                                     context__ending="not_sent").exists()
    assert Notice.objects.filter(user=user, kind="change-request-decided").count() == 1


def test_the_requester_hears_of_a_rejection_in_their_language(requested, inbox, approvers,
                                                             logged_in):
    notices_send_due()
    inbox.received.clear()
    logged_in.post(reverse("set_language"), {"language": "pl"})
    change_request_reject(change_request=requested, actor=approvers[0], note="Not now")
    notices_send_due()
    mail, = inbox.received
    assert subject(mail) == "Twoja zmiana kampanii Sprzedaż OZE 2026 została odrzucona"
    assert "Not now" not in content(mail)


def test_the_requester_hears_that_a_request_outdated_at_approval_was_not_sent(
    requested, inbox, approvers, thulium
):
    notices_send_due()
    inbox.received.clear()
    # Changed meanwhile in Thulium's panel.
    thulium.state.update_campaign(requested.campaign.thulium_id, {"dialer": "preview"},
                                  lambda stored: [])
    approve(requested, approvers[1])
    assert notices_send_due() == 1
    assert subject(inbox.received[0]) == "Your change to campaign Sprzedaż OZE 2026 is outdated"
    assert "nothing was sent" in content(inbox.received[0])


@pytest.mark.parametrize("meanwhile, why", [
    ("approved", "the request was decided before the notice was sent"),
    ("requester lost the role", "the request is no longer one the user may approve"),
])
def test_a_request_no_longer_waiting_when_its_mail_goes_out_is_not_said_to_wait(
        requested, inbox, approvers, user, meanwhile, why):
    """Kept in the outbox while the mail server was away, "waits for your approval" went
    out after the request was decided."""
    inbox.refusal = "421 4.3.2 Service not available"
    notices_send_due()
    if meanwhile == "approved":
        approve(requested, approvers[1])
    else:
        user.groups.clear()
    inbox.refusal = ""
    notices_send_due(now=timezone.now() + timedelta(minutes=2))
    assert mails_to(inbox, "anna@example.com") == []
    waiting = Notice.objects.filter(kind="change-request-waiting")
    assert set(waiting.values_list("state", "last_error")) == {(Notice.State.GAVE_UP, why)}


@pytest.mark.parametrize("meanwhile, why", [
    ("turned them off", "the user turned such notices off"),
    ("lost the role", "the user no longer gets such notices"),
])
def test_a_choice_made_while_a_notice_waited_in_the_outbox_holds_at_its_send(
        requested, inbox, approvers, meanwhile, why):
    """Only the choices at queueing counted: bob turned the mails off, or stopped being an
    editor, while the mail server was away, and still got them."""
    inbox.refusal = "421 4.3.2 Service not available"
    notices_send_due()
    bob = approvers[1]
    if meanwhile == "turned them off":
        as_bob = Client()
        as_bob.force_login(bob)
        assert as_bob.post(reverse("notices:settings"), {}).status_code == 302
    else:
        bob.groups.clear()
    inbox.refusal = ""
    notices_send_due(now=timezone.now() + timedelta(minutes=2))
    assert [mail["X-Envelope-To"] for mail in inbox.received] == ["anna@example.com"]
    assert Notice.objects.get(user=bob).last_error == why


def test_the_outbox_says_why_the_portal_gave_a_notice_up_in_the_reader_s_language(
        db):
    """The portal's reasons, kept in English beside the mail server's words, read in English
    on a Polish admin page; the server's words are shown as they came."""
    staff = make_user("admin", is_staff=True, is_superuser=True)
    refused = "SMTPDataError: 550 5.7.1 Mailbox unavailable"
    turned_off, _decided, _refused = (
        Notice.objects.create(user=staff, kind=kind, path="campaigns/", last_error=why,
                              state=Notice.State.GAVE_UP)
        for kind, why in (("change-request-decided", TURNED_OFF),
                          ("change-request-waiting", DECIDED_FIRST),
                          ("change-request-waiting", refused)))
    admin = Client()
    admin.force_login(staff)

    outbox = admin.get(reverse("admin:notices_notice_changelist"),
                       HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    page = admin.get(reverse("admin:notices_notice_change", args=[turned_off.pk]),
                     HTTP_ACCEPT_LANGUAGE="pl").content.decode()

    assert "użytkownik wyłączył takie powiadomienia" in outbox
    assert "wniosek rozpatrzono przed wysłaniem powiadomienia" in outbox and refused in outbox
    assert TURNED_OFF not in outbox and DECIDED_FIRST not in outbox
    assert "użytkownik wyłączył takie powiadomienia" in page and TURNED_OFF not in page


def test_the_outbox_names_each_kind_in_the_reader_s_language(db):
    """Its list, its filter and a notice's page named the kind by its slug
    ("change-request-decided do 1 (porzucone)"), in the Polish admin too; the filter still
    finds notices by the slug."""
    staff = make_user("admin", is_staff=True, is_superuser=True)
    decided = Notice.objects.create(user=staff, kind="change-request-decided",
                                    path="campaigns/", state=Notice.State.GAVE_UP)
    Notice.objects.create(user=staff, kind="import-finished", path="imports/1/")
    admin = Client()
    admin.force_login(staff)
    changelist = reverse("admin:notices_notice_changelist")

    outbox = admin.get(changelist, HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    filtered = admin.get(changelist, {"kind": "import-finished"},
                         HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    page = admin.get(reverse("admin:notices_notice_change", args=[decided.pk]),
                     HTTP_ACCEPT_LANGUAGE="pl").content.decode()

    assert '<td class="field-kind_name">Wynik wniosku o zmianę</td>' in outbox
    assert '<td class="field-kind_name">Import zakończony</td>' in outbox
    assert '">Wniosek o zmianę czeka na zatwierdzenie</a>' in outbox  # the filter's choice
    assert ">change-request-decided<" not in outbox and ">import-finished<" not in outbox
    assert filtered.count('<td class="field-kind_name">') == 1
    assert '<td class="field-kind_name">Import zakończony</td>' in filtered
    assert f"Wynik wniosku o zmianę do {staff.pk} (porzucone)" in page
    assert "change-request-decided" not in page


def test_a_refusing_server_is_logged_and_tried_again_later(requested, inbox, caplog):
    inbox.refusal = "550 5.7.1 Mailbox unavailable"
    with caplog.at_level(logging.WARNING, logger="notices.sending"):
        assert notices_send_due() == 0
    assert "not sent (attempt 1)" in caplog.text and "550" in caplog.text
    assert inbox.received == []
    waiting = Notice.objects.filter(state=Notice.State.QUEUED)
    assert waiting.count() == 2 and {n.attempts for n in waiting} == {1}
    assert all(n.last_error.startswith("SMTPDataError: (550") for n in waiting)
    # Not before its wait, then once the server takes mail again.
    inbox.refusal = ""
    assert notices_send_due() == 0
    assert notices_send_due(now=timezone.now() + timedelta(minutes=2)) == 2
    assert len(inbox.received) == 2
    admin = Client()
    admin.force_login(make_user("admin", is_staff=True, is_superuser=True))
    outbox = admin.get(reverse("admin:notices_notice_changelist")).content.decode()
    assert outbox.count('<td class="field-kind_name">Change request waiting for approval'
                        '</td>') == 2


@pytest.mark.parametrize("reply", ["450 4.2.1 Mailbox busy", "550 5.1.1 User unknown"])
def test_a_refused_recipient_s_address_is_neither_logged_nor_kept(requested, inbox, caplog,
                                                                  reply):
    inbox.recipient_refusal = reply
    with caplog.at_level(logging.WARNING, logger="notices.sending"):
        assert notices_send_due() == 0
    assert reply[:3] in caplog.text
    errors = " ".join(Notice.objects.values_list("last_error", flat=True))
    assert "SMTPRecipientsRefused" in errors
    for address in ("anna@example.com", "bob@example.com"):
        assert address not in caplog.text and address not in errors


def test_a_recipient_refused_for_good_is_given_up_at_once_and_a_busy_one_waits(
        requested, inbox, caplog):
    inbox.recipient_refusal = "550 5.1.1 User unknown"
    with caplog.at_level(logging.WARNING, logger="notices.sending"):
        assert notices_send_due() == 0
    assert "given up after 1 attempt(s)" in caplog.text
    assert set(Notice.objects.values_list("state", flat=True)) == {Notice.State.GAVE_UP}
    # A busy mailbox (4xx) is tried again after its wait.
    Notice.objects.update(state=Notice.State.QUEUED, attempts=0, next_attempt_at=timezone.now())
    inbox.recipient_refusal = "450 4.2.1 Mailbox busy"
    with caplog.at_level(logging.WARNING, logger="notices.sending"):
        assert notices_send_due() == 0
    assert "not sent (attempt 1)" in caplog.text
    assert set(Notice.objects.values_list("state", flat=True)) == {Notice.State.QUEUED}
    inbox.recipient_refusal = ""
    assert notices_send_due(now=timezone.now() + timedelta(minutes=2)) == 2


def test_a_mail_server_down_overnight_loses_no_notice_until_its_give_up_hours(
        requested, inbox, settings, caplog):
    """Ten tries, about four hours, gave every notice up: the audit break's too."""
    settings.NOTICES_GIVE_UP_HOURS = 72
    inbox.refusal = "421 4.3.2 Service not available"
    queued_at = timezone.now()
    Notice.objects.update(created_at=queued_at, attempts=20)
    assert notices_send_due(now=queued_at + timedelta(hours=12)) == 0
    assert set(Notice.objects.values_list("state", flat=True)) == {Notice.State.QUEUED}
    with caplog.at_level(logging.ERROR, logger="notices.sending"):
        assert notices_send_due(now=queued_at + timedelta(hours=73)) == 0
    assert set(Notice.objects.values_list("state", flat=True)) == {Notice.State.GAVE_UP}
    assert "given up after 22 attempt(s)" in caplog.text


@pytest.mark.django_db
def test_sent_and_given_up_notices_leave_the_outbox_after_the_days_kept(settings):
    settings.NOTICES_KEEP_DAYS = 30
    user = make_user("reader")
    now = timezone.now()

    def notice(state, days_ago):
        return Notice.objects.create(user=user, kind="import-finished", path="imports/1/",
                                     state=state, created_at=now - timedelta(days=days_ago))

    old_sent, old_given_up = notice(Notice.State.SENT, 31), notice(Notice.State.GAVE_UP, 31)
    kept = {notice(Notice.State.SENT, 29).pk, notice(Notice.State.QUEUED, 40).pk}
    settings.NOTICES_KEEP_DAYS = 0
    assert notices_purge(now=now) == 0  # 0 keeps them all
    settings.NOTICES_KEEP_DAYS = 30
    assert notices_purge(now=now) == 2
    assert set(Notice.objects.values_list("pk", flat=True)) == kept
    assert not Notice.objects.filter(pk__in=[old_sent.pk, old_given_up.pk]).exists()


def test_a_refused_mail_never_fails_the_action(inbox, approvers, logged_in, campaigns):
    inbox.refusal = "554 5.0.0 Go away"
    response = edit(logged_in, campaigns["00001"], dialer="predictive", reason="Season")
    assert response.status_code == 302
    approve(ChangeRequest.objects.get(), approvers[1])
    notices_send_due()
    assert ChangeRequest.objects.get().state == ChangeRequest.State.APPROVED
    assert inbox.received == [] and Notice.objects.filter(attempts=1).count() == 2


def test_a_user_can_turn_a_kind_off_on_their_settings_page(inbox, approvers, logged_in,
                                                          campaigns):
    client = Client()
    client.force_login(approvers[1])
    page = client.get(reverse("notices:settings")).content.decode()
    assert "A risky change waits for my approval" in page
    assert "My import has ended" not in page  # an editor only: they import nothing
    assert "The audit trail check" not in page  # staff only
    response = client.post(reverse("notices:settings"), {"change-request-decided": "on",
                                                          "scheduled-change-not-applied": "on"})
    assert response.status_code == 302
    assert list(OptOut.objects.values_list("user__username", "kind")) == [
        ("bob", "change-request-waiting")]
    edit(logged_in, campaigns["00001"], dialer="predictive", reason="Season")
    notices_send_due()
    assert [mail["X-Envelope-To"] for mail in inbox.received] == ["anna@example.com"]


def test_the_loader_hears_when_their_import_ends_with_its_counts(inbox, db, campaigns):
    loader = make_user("loader", LOADERS, email="loader@example.com")
    client = Client()
    client.force_login(loader)
    job = previewed(client, campaigns["00001"], csv_bytes([*people(3), ["12", "x", "y", ""]]))
    assert import_confirm(job=job)
    import_cancel(job=ImportJob.objects.get(pk=job.pk))
    assert notices_send_due() == 1
    mail, = inbox.received
    assert mail["X-Envelope-To"] == "loader@example.com"
    assert subject(mail) == f"Your import #{job.pk} to campaign Sprzedaż OZE 2026 was cancelled"
    body = content(mail)
    assert "Not sent: 3\n" in body and "Invalid: 1\n" in body and "Added: 0\n" in body
    assert link_in(mail) == f"{PORTAL}/imports/{job.pk}/"
    assert "601000000" not in body and "Kowalska" not in body  # no personal data


def test_an_import_done_with_rows_not_sent_is_not_said_to_have_sent_every_row(db):
    """"Every row to send was sent", over "Not sent: 1" (a number erased meanwhile); and
    "Added earlier (found in Thulium)" named rows no check had found."""
    loader = make_user("loader", LOADERS, email="loader@example.com")
    notice = Notice.objects.create(user=loader, kind="import-finished", path="imports/1/",
                                   context={"import": 1, "campaign": "Sprzedaż",
                                            "campaign_id": "00001", "result": "done",
                                            "rows_total": 3, "added": 2, "not_sent": 1,
                                            "added_earlier": 0})
    body = notice_message(notice).body
    assert "is done: what became of its rows is below." in body
    assert "every row to send was sent" not in body
    assert "Added earlier (Thulium already had them): 0" in body


def test_staff_hear_of_a_break_in_the_audit_trail_once(inbox, user, campaigns):
    make_user("admin", is_staff=True, email="admin@example.com")
    entry = change(actor=user, campaign=campaigns["00001"], sent={"dialer": "predictive"})
    call_command("verify_audit")
    tamper("UPDATE audit_entry SET sent = %s WHERE id = %s",
           ['{"dialer": "progressive"}', entry.pk])
    for _run in range(2):  # the same break found again is not mailed again
        with pytest.raises(CommandError):
            call_command("verify_audit")
    assert notices_send_due() == 1
    mail, = inbox.received
    assert mail["X-Envelope-To"] == "admin@example.com"
    assert subject(mail) == "The audit trail check found a break"
    assert f"entry #{entry.pk}" in content(mail)
    assert link_in(mail) == f"{PORTAL}/audit/"


def test_the_audit_break_mail_writes_the_break_s_times_in_the_portal_s_zone_and_language(
        inbox, user, campaigns):
    """A Polish staff member read "erased at 2026-03-01T09:30:00+00:00" (UTC), and was sent
    to "docs/operations.md", which no mail reader opens."""
    staff = make_user("admin", is_staff=True, email="admin@example.com")
    choose_language(staff, "pl")
    entry = change(actor=user, campaign=campaigns["00001"], sent={"dialer": "predictive"})
    call_command("verify_audit")
    tamper("UPDATE audit_entry SET erased_at = %s WHERE id = %s",
           ["2026-03-01 09:30:00+00:00", entry.pk])
    with pytest.raises(CommandError):
        call_command("verify_audit")
    notices_send_due()
    body = content(inbox.received[0])
    assert f"wpis nr {entry.pk}" in body and "1 marca 2026, 10:30:00" in body  # Warsaw: UTC+1
    assert "2026-03-01T09:30" not in body and "docs/operations.md" not in body


def test_an_erasure_marker_s_minute_in_the_break_is_written_in_the_portal_s_zone(db):
    staff = make_user("admin", is_staff=True, email="admin@example.com")
    notice = Notice.objects.create(user=staff, kind="audit-break", path="audit/", context={
        "links": 4, "problem": "entry #5 has a value erased on 2026-07-01 22:15 UTC under "
                               "“RODO/1”, not by the erasure it names, nor one the log records"})
    assert "erased on 2 July 2026, 00:15 under “RODO/1”" in notice_message(notice).body


def altered(first, second, third) -> str:
    tamper("UPDATE audit_entry SET sent = %s WHERE id = %s", ['{"dialer": "manual"}', second.pk])
    return f"wpis nr {second.pk} (rozpoczęcie, ogniwo nr 3) nie zgadza się ze swoim skrótem"


def removed(first, second, third) -> str:
    tamper("DELETE FROM audit_entry WHERE id = %s", [second.pk])
    return f"brak ogniwa nr 3: wpis usunięto (następne ogniwo to wpis nr {third.pk} (rozpoczęcie"


def erased(first, second, third) -> str:
    tamper("UPDATE audit_entry SET erased_at = %s WHERE id = %s",
           ["2026-03-01 09:30:00+00:00", second.pk])
    return (f"wpis nr {second.pk} podaje, że jego dane osobowe usunięto 1 marca 2026, "
            "10:30:00, a dziennik")  # Warsaw: UTC+1


@pytest.mark.parametrize("tampering", [altered, removed, erased])
def test_a_polish_staff_member_reads_the_break_in_polish(inbox, user, campaigns,
                                                          tampering):
    """The mail quoted the check's English words to a Polish reader."""
    staff = make_user("admin", is_staff=True, email="admin@example.com")
    choose_language(staff, "pl")
    entries = [change(actor=user, campaign=campaigns["00001"], sent={"dialer": "predictive"})
               for _n in range(3)]
    words = tampering(*entries)
    with pytest.raises(CommandError):
        call_command("verify_audit")
    notices_send_due()
    body = content(inbox.received[0])
    assert f"Pierwsze przerwanie (czasy w strefie czasowej portalu):\n{words}" in body
    assert "English" not in body and "angielsku" not in body
    assert ChainCheck.objects.get().sealed  # its words, as before, are what the seal covers


@pytest.mark.parametrize("finding", [None, {}, {"code": "link-missing", "values": {"link": 4}},
                                     {"code": "gone", "values": {}},
                                     {"code": "link-missing", "values": ["link"]}],
                         ids=["queued before findings", "kept before findings",
                              "not what the words say", "of an unknown kind",
                              "its values altered past reading"])
def test_a_break_kept_without_its_finding_is_mailed_in_the_check_s_words(db, finding):
    """Each a finding the mail cannot say, for a reason of its own (missing from the
    notice, kept empty, not what the words say, of a kind unknown, its values no mapping):
    the mail says the check's words instead, so a break is told however its finding was
    altered. Each case fails without its guard in shown_checks.finding_words (the words
    compared; the KeyError, TypeError and ValueError it catches)."""
    staff = make_user("admin", is_staff=True, email="admin@example.com")
    choose_language(staff, "pl")
    problem = "link #3 is missing: an entry was removed"
    context = {"links": 2, "problem": problem}
    if finding is not None:
        context["finding"] = finding
    notice = Notice.objects.create(user=staff, kind="audit-break", path="audit/",
                                   context=context)
    assert f"(po angielsku; czasy w strefie czasowej portalu):\n{problem}\n" in (
        notice_message(notice).body)


def test_the_worker_verifies_the_audit_trail_when_its_last_check_is_due(inbox, user,
                                                                        campaigns):
    make_user("admin", is_staff=True, email="admin@example.com")
    entry = change(actor=user, campaign=campaigns["00001"], sent={"dialer": "predictive"})
    tamper("UPDATE audit_entry SET sent = %s WHERE id = %s",
           ['{"dialer": "progressive"}', entry.pk])
    assert chain_check_if_due(24)  # never checked
    assert not chain_check_if_due(24)  # checked just now
    check = ChainCheck.objects.get()  # as a check a day ago kept it
    check.checked_at = timezone.now() - timedelta(hours=25)
    check.seal_now()
    check.save()
    assert chain_check_if_due(24)
    assert notices_send_due() == 1  # the same break is told once
    assert f"entry #{entry.pk}" in content(inbox.received[0])


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_sends_the_notice_of_the_import_it_finished(
    inbox, thulium, campaigns, settings, tmp_path
):
    settings.TASKS, settings.TASK_BACKEND = {"default": DB_BACKEND}, "database"
    workers = Workers(thulium, "database", tmp_path)
    # Sends soon after the import's end, not up to the default 5 s later.
    workers.env.update({"EMAIL_URL": f"smtp://127.0.0.1:{inbox.port}", "PORTAL_URL": PORTAL,
                        "NOTICES_POLL_SECONDS": "0.2"})
    loader = make_user("loader", LOADERS, email="loader@example.com")
    client = Client()
    client.force_login(loader)
    job = previewed(client, campaigns["00001"], csv_bytes(people(5)))
    assert import_confirm(job=job)
    try:
        workers.start()
        wait_until(lambda: inbox.received, workers=workers, seconds=60, what="the notice")
    finally:
        workers.stop_all()
    mail, = inbox.received
    assert subject(mail) == f"Your import #{job.pk} to campaign Sprzedaż OZE 2026 is done"
    assert "Added: 5\n" in content(mail)


def test_a_language_chosen_on_the_login_page_is_kept_at_login_unless_one_was_chosen(db):
    fresh, chosen = make_user("fresh"), make_user("chosen")
    choose_language(chosen, "en")
    for user in (fresh, chosen):
        client = Client()
        client.post(reverse("set_language"), {"language": "pl"})  # before logging in
        client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert (language_of(fresh), language_of(chosen)) == ("pl", "en")


def test_a_user_who_never_used_the_switch_gets_mails_in_their_browser_s_language(db):
    """Polish pages, from the browser's Accept-Language, and English mails."""
    polish, other = make_user("polish"), make_user("other")
    for user, accepted in ((polish, "pl-PL,pl;q=0.9,en;q=0.5"), (other, "de-DE")):
        Client(HTTP_ACCEPT_LANGUAGE=accepted).post(
            reverse("login"), {"username": user.username, "password": PASSWORD})
    assert (language_of(polish), language_of(other)) == ("pl", "en")


def test_a_language_chosen_before_is_the_pages_language_after_login_on_another_browser(db):
    """It was kept for e-mails only: a Polish user logging in on another computer got
    English pages."""
    user = make_user("chosen")
    choose_language(user, "pl")
    browser = Client(HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    response = browser.post(reverse("login"), {"username": user.username,
                                               "password": PASSWORD})
    assert response.cookies["django_language"].value == "pl"
    assert browser.get(reverse("campaigns:list")).headers["Content-Language"] == "pl"
    assert language_of(user) == "pl"  # what the English browser asks for changes nothing
    # A browser that chose on the login page keeps its choice.
    other = Client()
    other.post(reverse("set_language"), {"language": "en"})
    response = other.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert "django_language" not in response.cookies
    assert other.get(reverse("campaigns:list")).headers["Content-Language"] == "en"


@pytest.mark.parametrize("shared", [
    {"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9"},
    {"HTTP_ACCEPT_LANGUAGE": "pl-PL,pl;q=0.9", "HTTP_COOKIE": "django_language=en"},
], ids=["accept-language", "switch-cookie"])
def test_a_language_only_seen_at_a_first_login_is_not_imposed_on_the_next_browser(db, shared):
    """A first login on a shared English browser (a trainer's laptop) kept English as if
    chosen, and every later login from the user's own Polish browser got English pages."""
    user = make_user("agent")
    login = {"username": user.username, "password": PASSWORD}
    Client(**shared).post(reverse("login"), login)
    assert language_of(user) == "en"
    own = Client(HTTP_ACCEPT_LANGUAGE="pl-PL,pl;q=0.9,en;q=0.5")
    assert "django_language" not in own.post(reverse("login"), login).cookies
    assert own.get(reverse("campaigns:list")).headers["Content-Language"] == "pl"
    assert language_of(user) == "pl"  # the mails follow the browser last logged in on


def test_a_language_kept_before_chosen_and_seen_were_told_apart_counts_as_chosen(db):
    """As the release before wrote it, or the migration kept it: it was imposed before."""
    user = make_user("earlier")
    UserLanguage.objects.create(user=user, language="pl")
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = browser.post(reverse("login"), {"username": user.username,
                                               "password": PASSWORD})
    assert response.cookies["django_language"].value == "pl"
    assert language_of(user) == "pl"


def test_a_campaign_name_with_line_breaks_stays_on_its_line_in_the_mail(db):
    """Collapsed in the subject, not in the body: an editor could write a false "Open it in
    the portal:" link into colleagues' mails."""
    approver = make_user("anna", EDITORS, email="anna@example.com")
    name = "Sale\r\n\nOpen it in the portal:\u2028https://evil.example.com/\n"
    notice = Notice.objects.create(user=approver, kind="change-request-waiting",
                                   path="campaigns/requests/1/", context={
                                       "request": 1, "campaign": name, "campaign_id": "00001"})
    body = notice_message(notice).body
    assert "campaign Sale Open it in the portal: https://evil.example.com/ (00001)" in body
    lines = body.splitlines()
    assert lines.count("Open it in the portal:") == 1
    assert not [line for line in lines if line.startswith("https://evil")]


@pytest.mark.parametrize(("links", "words"), [
    (1, "1 ogniwo przed nim jest nienaruszone"), (2, "2 ogniwa przed nim są nienaruszone"),
    (5, "5 ogniw przed nim jest nienaruszonych"), (22, "22 ogniwa przed nim są nienaruszone")])
def test_the_audit_break_mail_counts_the_intact_links_as_polish_counts(db, links, words):
    """It said "1 ogniw", "22 ogniw": one wording for every count."""
    staff = make_user("admin", is_staff=True, email="admin@example.com")
    choose_language(staff, "pl")
    notice = Notice.objects.create(user=staff, kind="audit-break", path="audit/",
                                   context={"links": links, "problem": "x"})
    assert words in notice_message(notice).body


class _SlowServer(BaseEmailBackend):
    """A mail server taking four minutes of `_CLOCK` a mail, while another worker polls
    during the second; it refuses carl's."""

    def send_messages(self, messages):
        _CLOCK[0] += timedelta(minutes=4)
        _SENT.extend(message.to[0] for message in messages)
        if len(_SENT) == 2:
            notices_send_due()
        if messages[0].to == ["carl@example.com"]:
            raise smtplib.SMTPServerDisconnected("gone")
        return len(messages)


_CLOCK, _SENT = [None], []


def test_a_slow_mail_server_neither_gets_a_notice_twice_nor_cuts_a_retry_s_wait(
        requested, approvers, settings, monkeypatch):
    Notice.objects.create(user=make_user("carl", email="carl@example.com", is_staff=True),
                          kind="audit-break", path="audit/",
                          context={"links": 1, "problem": "x"})
    settings.EMAIL_BACKEND = f"{__name__}._SlowServer"
    _CLOCK[0], _SENT[:] = timezone.now() + timedelta(seconds=1), []
    monkeypatch.setattr("notices.sending.timezone", SimpleNamespace(now=lambda: _CLOCK[0]))
    notices_send_due()
    assert sorted(_SENT) == ["anna@example.com", "bob@example.com", "carl@example.com"]
    # The refused one waits its minute from when it was refused.
    failed = Notice.objects.get(state=Notice.State.QUEUED)
    assert failed.next_attempt_at == _CLOCK[0] + timedelta(minutes=1)


def a_send_held_by_the_server(inbox) -> tuple[Notice, threading.Thread, threading.Event]:
    """A worker sending carl's notice, its mail server holding the message until the test
    sets the event."""
    notice = Notice.objects.create(user=make_user("carl", email="carl@example.com", is_staff=True),
                                   kind="audit-break", path="audit/",
                                   context={"links": 1, "problem": "x"})
    inbox.hold = release = threading.Event()
    worker = threading.Thread(target=closing(notices_send_due))
    worker.start()
    assert inbox.held.wait(10)
    return notice, worker, release


@pytest.mark.django_db(transaction=True)
def test_no_worker_takes_over_a_notice_while_its_send_may_still_be_running(inbox, settings):
    """The claim lasted 5 minutes whatever EMAIL_TIMEOUT, and a send waits on the server
    about 20 times, each up to EMAIL_TIMEOUT: a slow server got the mail twice."""
    settings.EMAIL_TIMEOUT = 60
    notice, worker, release = a_send_held_by_the_server(inbox)
    try:
        later = timezone.now() + 20 * timedelta(seconds=settings.EMAIL_TIMEOUT)
        assert notices_send_due(now=later) == 0
    finally:
        release.set()
        worker.join()
    notice.refresh_from_db()
    assert (notice.state, notice.attempts, len(inbox.received)) == (Notice.State.SENT, 1, 1)


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_claim_ran_out_mid_send_records_nothing_over_the_next_one_s(
        inbox, caplog):
    """Its failure, recorded after the other worker had sent the notice, put an error and
    a retry on a sent notice (and one given up over a sent one)."""
    caplog.set_level(logging.WARNING, logger="notices.sending")
    notice, worker, release = a_send_held_by_the_server(inbox)
    try:
        assert notices_send_due(now=timezone.now() + timedelta(days=1)) == 1
        inbox.refusal = "451 4.3.0 Try again later"
    finally:
        release.set()
        worker.join()
    notice.refresh_from_db()
    assert (notice.state, notice.attempts, notice.last_error) == (Notice.State.SENT, 1, "")
    assert "another worker took it over during this send" in caplog.text
