"""An id read from what a user or a link typed."""

import re

MAX_ID = 2**63 - 1  # the largest id a database can hold; anything above is simply unknown

# ASCII digits only: str.isdigit() takes "²", and int() takes " 7", "+7" and "7_0".
_ID = re.compile(r"[0-9]{1,19}")


def id_from_text(text: str) -> int | None:
    """The id the text spells, or None: at most 19 digits and no more than MAX_ID, as
    int() refuses texts of over 4,300 digits with an error rather than reading them."""
    if not isinstance(text, str) or not _ID.fullmatch(text):
        return None
    number = int(text)
    return number if number <= MAX_ID else None
