"""The kinds of e-mail notices, registered by the apps that send them.

Like audit kinds, a new kind takes three steps in the app that sends it:
1. a `Kind` in its notices.py, and a function that calls `notices.services.notices_queue`
   with the recipients, plain context (campaign, counts; never personal data) and the
   page's path; the action calls it inside its transaction;
2. `register(KIND)` in the app's `AppConfig.ready()`;
3. templates/notices/<slug>/subject.txt and body.txt (which extends notices/mail.txt).
A kind whose news may be overtaken while its notices wait in the outbox (a request decided
before its "waits for your approval" went out) says why in `why_outdated`: such a notice is
given up at its send.
The settings page offers a switch for every kind a user gets.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.functional import Promise


@dataclass(frozen=True)
class Kind:
    slug: str
    # On the user's settings page, e.g. "A change waits for my approval".
    label: str | Promise
    # In the outbox in the admin, e.g. "Change request waiting for approval": the label
    # speaks as its recipient, and the slug read to a Polish administrator as English.
    admin_label: str | Promise
    # Whether a user is among those who get it, so that the page offers its switch.
    gets: Callable[[object], bool]
    # Given a queued Notice at its send, why it no longer holds ("" while it does): one kept
    # in the outbox while the mail server was away may tell of what has changed since.
    why_outdated: Callable[[object], str] | None = None
    # Every answer of why_outdated but "" (English, marked with gettext_noop): the outbox's
    # last error keeps it so and the admin shows it in the reader's language.
    outdated_reasons: tuple[str, ...] = ()


_KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> None:
    if _KINDS.setdefault(kind.slug, kind) is not kind:
        raise ValueError(f"notice kind {kind.slug!r} is registered twice")


def kind_named(slug: str) -> Kind | None:
    """The registered kind of that slug; None for one no longer registered."""
    return _KINDS.get(slug)


def kind_admin_label(slug: str) -> str | Promise:
    """The kind's name in the outbox; one no longer registered reads as its bare slug."""
    kind = _KINDS.get(slug)
    return kind.admin_label if kind else slug


def kinds_by_admin_label() -> list[Kind]:
    """Every kind in the order of its name in the outbox in the reader's language, as a
    list to choose from reads."""
    return sorted(_KINDS.values(), key=lambda kind: str(kind.admin_label).casefold())


def kinds_for(user) -> list[Kind]:
    """The kinds `user` gets, in the order they were registered."""
    return [kind for kind in _KINDS.values() if kind.gets(user)]
