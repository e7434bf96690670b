"""Characters that show nothing: text pasted from a phone's contacts, a chat or a PDF
carries direction marks (U+200E, U+200F), zero-width spaces and joiners, or a byte-order
mark, around what the user sees."""

import unicodedata


def without_invisible(text: str) -> str:
    """The text without its format characters (Unicode's Cf: the marks above, the soft
    hyphen): what the user sees and means."""
    return "".join(char for char in text if unicodedata.category(char) != "Cf")
