"""What a form held when it was posted after its session had ended, kept for its page.

Such a post is answered with the login page (portal.middleware.LoginThenBackMiddleware),
which then leads back to the form's page, and the form came back empty: what the user had
typed was lost. Its fields are kept instead, and the page, opened after the login (password,
code or single sign-on), shows them back in the form, not sent, with a note
(templates/includes/kept_input.html).

No file is kept (a page cannot choose one for the user), nor any field named like a
password, a secret, a code, a key or a token (the CSRF token, a second factor's code):
those are typed again, never stored.

The fields may hold personal data (a phone number, a record's fields): they are kept in the
cache, which drops them after KEEP_SECONDS, and are dropped once shown. Ten minutes cover a
login with a code or at the identity provider; a form left longer is not worth keeping a
person's data for.

An erasure of a number (audit.erasure) drops every kept form that spells it: the cache
cannot list its keys, so each kept form is listed under a numbered slot of its own
(`_slot_list`), which expires with it.

The session had ended, so who posted is not known for sure. What is kept is reached
through the key the new session of the posting browser holds: no other browser, nor the
account elsewhere, gets it. The browser also holds, until it closes, a cookie naming the
account last logged in with it (by a digest only the portal can make): the ended session's
own cookie has expired with it, or names a session no longer there. A login by another
account drops what was kept, as on a shared computer the next person must not see a
colleague's typing. Without that cookie (the browser was closed and opened again, or its
cookies cleared) nothing is kept: whoever logs in next could be anyone who sat down at it.
The cookie is signed: a visitor who never logged in cannot make one up to have the cache
hold their posts.

A session keeps one form, its last, and a post larger than any form of the portal's
(KEPT_FIELDS_MOST values, KEPT_BYTES_MOST of names and values) keeps nothing: each post
would otherwise hold up to Django's 2.5 MB in the cache for ten minutes.
"""

import re
import secrets
from urllib.parse import unquote_plus

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core import signing
from django.core.cache import cache
from django.dispatch import receiver
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.encoding import escape_uri_path

from .caching import cache_answer
from .phones import spells_number

KEEP_SECONDS = 600
# The session's key of what it kept: the end of its cache key.
KEPT = "kept_input"
ACCOUNT_COOKIE = "portal_account"
# Never kept: a password, a second factor's code, a secret, a key, a token (the CSRF one too).
SECRET_NAME = re.compile(r"pass|secret|code|token|key", re.IGNORECASE)
# The most a kept post holds: above the portal's largest form, an import's mapping of
# IMPORT_MAX_COLUMNS (200 unless set) columns and its template's name.
KEPT_FIELDS_MOST = 256
KEPT_BYTES_MOST = 64 * 1024
# The counter numbering the slots that list the kept forms' tokens, for an erasure.
SLOTS = "kept-input:slots"
# Slots an erasure reads at once: it stops at the first such run of slots expired.
SLOTS_READ = 500


def kept_input_key(token: str) -> str:
    return f"kept-input:{token}"


def posted_input_keep(request, *, page: str) -> None:
    """Keep this post's fields for `page`, the page its form was on, to show after the login.
    Nothing is kept when the cache does not answer: the form then comes back empty."""
    if request.path.startswith(reverse("admin:index")):
        return  # the admin's pages cannot show them back
    account = _cookie_account(request)
    if account is None:
        return  # no one to check the next login against
    fields = {name: values for name, values in request.POST.lists()
              if not SECRET_NAME.search(name)}
    if not fields or _too_large(fields):
        return
    earlier = request.session.get(KEPT)
    if earlier is not None:
        _drop(request, earlier)  # replaced by this one
    token = secrets.token_urlsafe(16)
    if not _slot_list(token):
        return  # an erasure could not find it
    kept = cache_answer(cache.add, kept_input_key(token), {
        "page": page,
        "account": account,
        "file": bool(request.FILES),
        # As the page's script reads its forms' addresses: percent-encoded.
        "form": {"action": escape_uri_path(request.path), "fields": fields},
    }, KEEP_SECONDS)
    if kept:
        request.session[KEPT] = token


def kept_input_take(request) -> dict | None:
    """What was kept for the page a logged-in user opens, once: "form" (the address it was
    posted to, "action", and its "fields") and "file" (whether a file was chosen, to be
    chosen again); else None."""
    # A page answered before the middleware ran (a 400 for an unknown host) has no session.
    session = getattr(request, "session", None)
    token = session.get(KEPT) if session is not None else None
    if token is None or not request.user.is_authenticated:
        return None
    kept = cache_answer(cache.get, kept_input_key(token))
    if kept is not None and kept["page"] != request.get_full_path():
        return None
    _drop(request, token)
    return kept


@receiver(user_logged_in, dispatch_uid="portal.kept_input.account_check")
def kept_input_account_check(sender, request, user, **kwargs) -> None:
    """A login by an account other than the one this browser last had drops what was kept,
    and so does any login when it names no account (kept before the cookie was required)."""
    token = request.session.get(KEPT)
    if token is None:
        return
    kept = cache_answer(cache.get, kept_input_key(token))
    if kept is None or not constant_time_compare(kept["account"] or "", account_digest(user)):
        _drop(request, token)


def kept_forms_forget(key: str, _erasure) -> int:
    """Drop the kept forms whose fields spell the number keyed `key`, for an erasure;
    returns how many. A cache that does not answer holds them out of anyone's reach, and
    for KEEP_SECONDS at most: the erasure goes on without them."""
    tokens = _spelling(key)
    cache_answer(cache.delete_many, [kept_input_key(token) for token in tokens])
    return len(tokens)


def kept_forms_held(key: str) -> int:
    """How many kept forms spell the number (for an erasure's page)."""
    return len(_spelling(key))


def _spelling(key: str) -> list[str]:
    """The tokens of the kept forms a field of which, or their page's address (a search's
    query), spells the number."""
    return [token for token, kept in _all_kept().items()
            if any(spells_number(text, key) for text in (
                unquote_plus(kept["page"]),
                *(value for values in kept["form"]["fields"].values() for value in values)))]


def _slot_list(token: str) -> bool:
    """List the token under the next slot, which expires with its form; False when the
    cache does not answer."""
    cache_answer(cache.add, SLOTS, 0, None)  # the counter itself never expires
    # None too when the counter went between the two calls (the cache emptied).
    slot = cache_answer(cache.incr, SLOTS)
    return slot is not None and bool(
        cache_answer(cache.add, _slot_key(slot), token, KEEP_SECONDS))


def _all_kept() -> dict[str, dict]:
    """Every form kept now, by token: the slots are read from the last one back, until
    SLOTS_READ in a row have expired (each lives as long as its form, and they expire in
    the order they were listed)."""
    last = cache_answer(cache.get, SLOTS) or 0
    tokens = []
    for top in range(last, 0, -SLOTS_READ):
        listed = cache_answer(cache.get_many, [
            _slot_key(slot) for slot in range(top, max(top - SLOTS_READ, 0), -1)])
        if not listed:
            break
        tokens += listed.values()
    kept = cache_answer(cache.get_many, [kept_input_key(token) for token in tokens]) or {}
    return {key.removeprefix(kept_input_key("")): form for key, form in kept.items()}


def _slot_key(slot: int) -> str:
    return f"kept-input:slot:{slot}"


def account_cookie_set(request, response) -> None:
    """Name in this browser, until it closes, the account logged in with it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return
    named = _account_signer().sign(account_digest(user))
    if request.COOKIES.get(ACCOUNT_COOKIE) != named:
        response.set_cookie(ACCOUNT_COOKIE, named, secure=settings.SESSION_COOKIE_SECURE,
                            httponly=True, samesite=settings.SESSION_COOKIE_SAMESITE)


def account_digest(user) -> str:
    """A keyed digest of the account: the cookie names no one to whoever reads it."""
    return salted_hmac("portal.kept_input.account", str(user.pk)).hexdigest()


def _cookie_account(request) -> str | None:
    """The account digest this browser's cookie names, if the portal signed it."""
    try:
        return _account_signer().unsign(request.COOKIES.get(ACCOUNT_COOKIE, ""))
    except signing.BadSignature:
        return None


def _account_signer() -> signing.Signer:
    return signing.Signer(salt="portal.kept_input.account_cookie")


def _too_large(fields: dict[str, list[str]]) -> bool:
    """Whether the fields hold more than a form of the portal's does (KEPT_FIELDS_MOST)."""
    posted = [(name, value) for name, values in fields.items() for value in values]
    return len(posted) > KEPT_FIELDS_MOST or sum(
        len(name.encode()) + len(value.encode()) for name, value in posted) > KEPT_BYTES_MOST


def _drop(request, token: str) -> None:
    del request.session[KEPT]
    cache_answer(cache.delete, kept_input_key(token))
