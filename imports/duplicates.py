"""Telling "you already added this" from other refusals: the one place that reads the words.

Thulium documents that it refuses duplicate numbers (and identifiers) but not the text or
code of that refusal. The sandbox says "Phone number already exists in the campaign."
("Numer telefonu już istnieje w kampanii." in Polish); Thulium's real wording is not
known. So the import trusts such a refusal only where it is expected: on a resend of a
row whose earlier send went unanswered. There, a refusal whose message says the value
already exists, in English or Polish, means the earlier send landed.
"""

import re
import unicodedata

# Compared without accents and case: "już istnieje", "juz istnieje", "Already exists"...
_ALREADY_THERE = re.compile(
    r"already (exists?|in|added|present|taken|used)|duplicat|exists already"
    r"|juz istnieje|istnieje juz|juz dodan|juz jest|duplikat|powtorzon",
)


def says_already_exists(messages: list[str]) -> bool:
    """True when one of Thulium's messages says the number (or identifier) is already there."""
    return any(_ALREADY_THERE.search(_plain(message)) for message in messages)


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    return "".join(char for char in text if not unicodedata.combining(char)).lower()
