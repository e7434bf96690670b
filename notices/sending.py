"""Sending queued notices: the worker's job, never a web request's.

Each due notice is claimed by moving its next attempt a lease ahead (one UPDATE that only
one worker wins), longer than its send may last, rendered in its recipient's language and
sent through Django's mail framework (EMAIL_URL). A mail server that refuses (4xx/5xx),
times out or cannot be reached makes the notice wait and try again, the wait doubling up
to MAX_WAIT; a notice still failing NOTICES_GIVE_UP_HOURS after it was queued is given up
and logged as an error (counting tries instead lost every notice to a night's outage). A
recipient the server refuses for good (5xx, "no such user") is given up at once: tries over
hours would only be refused again. Only the worker still holding the claim records how the
send ended. A notice whose news no longer holds at its send (its kind's `why_outdated`) is
given up, with the reason.
Once sent or given up, a notice is kept NOTICES_KEEP_DAYS for the admin to look at, then
cleared.
"""

import logging
import re
import smtplib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from .kinds import kind_named
from .models import Notice, OptOut
from .services import language_of

log = logging.getLogger(__name__)

FIRST_WAIT = timedelta(minutes=1)
MAX_WAIT = timedelta(hours=1)
# How many times a send may wait on the mail server, each up to EMAIL_TIMEOUT: connecting
# (to up to two addresses), its greeting, EHLO, STARTTLS, its handshake, EHLO again, a login
# (up to 6 replies, trying three methods), MAIL, RCPT, DATA, the message, its reply, QUIT.
SEND_WAITS = 20
BATCH = 50
_ADDRESS = re.compile(r"[^\s'\"<>(),;:]+@[^\s'\"<>(),;:]+")
# Why a notice is given up unsent, kept in English in its last error beside a mail server's
# words (which come in English) and shown in the reader's language in the admin.
NO_ADDRESS = gettext_noop("the user has no address now")
NO_LONGER_GETS = gettext_noop("the user no longer gets such notices")
TURNED_OFF = gettext_noop("the user turned such notices off")


def notices_send_due(*, now: datetime | None = None) -> int:
    """Send the notices due at `now` (default: now); returns how many were sent."""
    # Each claim's lease and each retry's wait count from their own moment: a batch sent
    # to a slow mail server lasts longer than a lease, and one counted from its start
    # would hand its last notices to another worker mid-send (sent twice).
    clock = (lambda: now) if now else timezone.now
    due = list(Notice.objects.filter(state=Notice.State.QUEUED, next_attempt_at__lte=clock())
               .order_by("next_attempt_at").values_list("pk", flat=True)[:BATCH])
    sent = 0
    for pk in due:
        claimed_at = clock()
        claimed_until = claimed_at + lease()
        if Notice.objects.filter(pk=pk, state=Notice.State.QUEUED,
                                 next_attempt_at__lte=claimed_at).update(
                                     next_attempt_at=claimed_until):
            sent += _send(Notice.objects.select_related("user").get(pk=pk), clock,
                          claimed_until)
    return sent


def lease() -> timedelta:
    """How long a claim holds a notice: longer than a send may last (a claim that ran out
    mid-send let another worker send the notice again), a minute more for looking up the
    mail server's address and rendering. A worker that died mid-send leaves it this long."""
    return timedelta(seconds=SEND_WAITS * settings.EMAIL_TIMEOUT + 60)


def notices_purge(*, now: datetime | None = None) -> int:
    """Clear the notices sent or given up more than NOTICES_KEEP_DAYS before `now`; returns
    how many. Waiting ones stay, however old."""
    if settings.NOTICES_KEEP_DAYS <= 0:
        return 0
    before = (now or timezone.now()) - timedelta(days=settings.NOTICES_KEEP_DAYS)
    deleted, _by_model = Notice.objects.filter(
        state__in=[Notice.State.SENT, Notice.State.GAVE_UP], created_at__lt=before).delete()
    return deleted


def notice_message(notice: Notice) -> EmailMessage:
    """The notice as an e-mail in its recipient's language."""
    user = notice.user
    language = language_of(user)
    with translation.override(language):
        context = {
            **{name: _one_line(value) for name, value in notice.context.items()},
            "link": f"{settings.PORTAL_URL}/{notice.path}",
            "settings_link": settings.PORTAL_URL + reverse("notices:settings"),
        }
        subject = render_to_string(f"notices/{notice.kind}/subject.txt", context)
        body = render_to_string(f"notices/{notice.kind}/body.txt", context)
    return EmailMessage(
        subject=" ".join(subject.split()), body=body.strip() + "\n", to=[user.email],
        # RFC 3834: no out-of-office reply to a mail no one wrote.
        headers={"Content-Language": language, "Auto-Submitted": "auto-generated"},
    )


def _one_line(value):
    """`value`, a string's whitespace made single spaces: a campaign name with line breaks
    wrote a line of its own in the mail, such as a false "Open it in the portal:" link."""
    return " ".join(value.split()) if isinstance(value, str) else value


def _send(notice: Notice, clock, claimed_until: datetime) -> int:
    """Send one notice claimed until `claimed_until`; 1 if it went, 0 if it waits again or
    was given up."""
    attempts = notice.attempts + 1
    why_not = _why_not_sent(notice)
    if why_not:
        if _settle(notice, claimed_until, state=Notice.State.GAVE_UP, attempts=attempts,
                   last_error=why_not):
            log.info("notice %s (%s) to user %s given up: %s", notice.pk, notice.kind,
                     notice.user_id, why_not)
        return 0
    try:
        notice_message(notice).send()
    except Exception as error:  # smtplib's refusals, OSError and timeouts, or a bad template
        _failed(notice, claimed_until, attempts, error, clock())
        return 0
    _settle(notice, claimed_until, state=Notice.State.SENT, attempts=attempts,
            last_error="", sent_at=timezone.now())
    log.info("notice %s (%s) sent to user %s", notice.pk, notice.kind, notice.user_id)
    return 1


def _why_not_sent(notice: Notice) -> str:
    """Why the notice is not to be sent now ("" if it is), for the outbox's last error: its
    recipient's address, role and choices are theirs at the send, as notices_queue asked
    them when it was queued (one queued before they turned its kind off went out)."""
    user = notice.user
    if not (user.is_active and user.email):
        return NO_ADDRESS
    kind = kind_named(notice.kind)
    if kind is None:
        return ""
    if not kind.gets(user):
        return NO_LONGER_GETS
    if OptOut.objects.filter(user=user, kind=kind.slug).exists():
        return TURNED_OFF
    return kind.why_outdated(notice) if kind.why_outdated else ""


def _failed(notice: Notice, claimed_until: datetime, attempts: int, error: Exception,
            failed_at: datetime) -> None:
    # The lines name the user by number: a refused recipient's address (SMTPRecipientsRefused
    # carries it) is not repeated in the log or the outbox.
    words = _ADDRESS.sub("<address>", f"{type(error).__name__}: {error}")
    too_old = failed_at - notice.created_at >= timedelta(hours=settings.NOTICES_GIVE_UP_HOURS)
    if too_old or _refused_for_good(error):
        if _settle(notice, claimed_until, state=Notice.State.GAVE_UP, attempts=attempts,
                   last_error=words):
            log.error("notice %s (%s) to user %s given up after %d attempt(s): %s",
                      notice.pk, notice.kind, notice.user_id, attempts, words)
        return
    retry_at = failed_at + min(FIRST_WAIT * 2 ** (attempts - 1), MAX_WAIT)
    if not _settle(notice, claimed_until, attempts=attempts, next_attempt_at=retry_at,
                   last_error=words):
        return
    log.warning("notice %s (%s) to user %s not sent (attempt %d), retry at %s: %s",
                notice.pk, notice.kind, notice.user_id, attempts, retry_at.isoformat(), words)


def _refused_for_good(error: Exception) -> bool:
    """Whether the server refused the recipient permanently (RFC 5321: a 5xx reply). A 5xx
    to the mail itself (a sender or relay rule, a login) is the server's setting, which an
    administrator may mend: those notices keep waiting."""
    return isinstance(error, smtplib.SMTPRecipientsRefused) and all(
        code >= 500 for code, _reply in error.recipients.values())


def _settle(notice: Notice, claimed_until: datetime, **outcome) -> bool:
    """Record the send's outcome if this worker's claim still holds the notice; whether it
    did. Once another worker has claimed it, the outcome is that one's to record."""
    if Notice.objects.filter(pk=notice.pk, state=Notice.State.QUEUED,
                             next_attempt_at=claimed_until).update(**outcome):
        return True
    log.warning("notice %s (%s) to user %s: another worker took it over during this "
                "send, which outlasted its claim; this send's outcome is not recorded",
                notice.pk, notice.kind, notice.user_id)
    return False
