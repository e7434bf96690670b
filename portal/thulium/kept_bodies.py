"""What the audit keeps of an answer that is not Thulium's documented JSON: its text as
Thulium wrote it, without the portal's credentials, cut to the gist; and Thulium's words
of a documented error, without them too (`redacted`), as they are kept and shown.

The audit is hash-chained and kept for good: a debug page echoing PHP_AUTH_PW, or a proxy
echoing the Authorization header, would otherwise keep the API password there.
"""

import base64

import requests

# Enough to read an HTML error page's gist.
MAX_KEPT_BODY = 2000
REDACTED = "[redacted]"


def body_text(response: requests.Response) -> str:
    """The body as text, in the charset its Content-Type names, else UTF-8: requests would
    read a text/* answer naming none as ISO-8859-1, garbling a Polish page."""
    named = "charset=" in response.headers.get("Content-Type", "").lower()
    try:
        return response.content.decode(response.encoding if named else "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        return response.content.decode("utf-8", "replace")


def kept_body(text: str, *, user: str, password: str) -> str:
    """`text` cut to MAX_KEPT_BODY, the password in each form a body may echo replaced by
    [redacted] (see `redacted`)."""
    forms = _secret_forms(user, password)
    if not forms:
        return text[:MAX_KEPT_BODY]
    # Cut with room for a secret begun within the kept part, so that it goes whole too.
    return _replaced(text[:MAX_KEPT_BODY + len(forms[0])], forms)[:MAX_KEPT_BODY]


def redacted(text: str, *, user: str, password: str) -> str:
    """`text` with the password in each form a body may echo replaced by [redacted]: as
    typed, as user:password, and either in base64 (Basic auth sends the pair)."""
    return _replaced(text, _secret_forms(user, password))


def _secret_forms(user: str, password: str) -> list[str]:
    """The forms of the password, longest first, so that user:password and its base64 go
    as a whole; none for an empty password, which is no secret."""
    if not password:
        return []
    pair = f"{user}:{password}"
    forms = [pair, password]
    forms += [base64.b64encode(form.encode()).decode() for form in forms]
    return sorted(forms, key=len, reverse=True)


def _replaced(text: str, forms: list[str]) -> str:
    for secret in forms:
        text = text.replace(secret, REDACTED)
    return text
