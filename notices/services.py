"""Queueing notices, and what users chose about them."""

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.urls import get_script_prefix
from django.utils import translation

from .kinds import Kind
from .models import Notice, OptOut, UserLanguage

log = logging.getLogger(__name__)


def notices_queue(*, kind: Kind, users: Iterable, context: dict, path: str) -> int:
    """Queue one notice of `kind` per user who has an address, gets such notices (as the
    settings page offers their switch: one who lost their role could not turn it off) and
    did not turn it off.

    Call it inside the action's transaction: the notices commit with the action or not at
    all. It never raises: a notice that cannot be queued is logged, and the action goes on.
    Returns how many were queued.
    """
    try:
        with transaction.atomic():  # a savepoint: a failure here leaves the action's intact
            wanted = [user for user in users
                      if user.is_active and user.email and kind.gets(user)]
            off = set(OptOut.objects.filter(kind=kind.slug, user__in=wanted)
                      .values_list("user_id", flat=True))
            # Links are kept below the script prefix: PORTAL_URL already ends with it.
            path = path.removeprefix(get_script_prefix())
            notices = Notice.objects.bulk_create(
                Notice(user=user, kind=kind.slug, context=context, path=path)
                for user in wanted if user.pk not in off
            )
    except Exception:
        log.exception("could not queue %s notices", kind.slug)
        return 0
    if notices:
        log.info("queued %d %s notices", len(notices), kind.slug)
    return len(notices)


def notice_choices_save(*, user, kinds: list[Kind], wanted: set[str]) -> None:
    """Turn each of `kinds` on or off for `user`, as `wanted` (slugs) says."""
    with transaction.atomic():
        OptOut.objects.filter(user=user, kind__in=wanted).delete()
        for kind in kinds:
            if kind.slug not in wanted:
                OptOut.objects.get_or_create(user=user, kind=kind.slug)


def language_remember(*, user, language: str) -> None:
    """Keep the language `user` chose with the switch: their e-mails are written in it, and
    a browser they log in on without the switch's cookie is given it."""
    if language in dict(settings.LANGUAGES):
        UserLanguage.objects.update_or_create(user=user, defaults={"language": language,
                                                                   "chosen": True})


def language_keep_at_login(sender, *, request, user, **kwargs) -> None:
    """A browser without the switch's cookie takes the language the user chose, on another
    computer say (notices.middleware sets it). A user who never chose has their e-mails in
    the language this browser asks for (its cookie, else its Accept-Language, as SSO users
    never see the login page's switch), seen anew at each login and given to no browser:
    one seen at a first login on a shared English laptop is not theirs to be imposed on
    their own Polish browser."""
    chosen = (UserLanguage.objects.filter(user=user, chosen=True)
              .values_list("language", flat=True).first())
    if chosen is None:
        UserLanguage.objects.update_or_create(user=user, defaults={
            "language": translation.get_language_from_request(request), "chosen": False})
    elif request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) not in dict(settings.LANGUAGES):
        request.language_kept = chosen


def language_of(user) -> str:
    """The language of `user`'s e-mails: the one last chosen, else the one seen at their last
    login, else the portal's default."""
    kept = UserLanguage.objects.filter(user=user).values_list("language", flat=True).first()
    return kept or settings.LANGUAGE_CODE
