"""A file of numbers for the list, read by the imports' file reading (encodings, separators,
XLSX): the numbers of its phone column, the lines that hold none, and how many repeat."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from imports.mapping import header_key
from imports.reading import FileLayout, FileProblem, header_refused, read_rows
from portal.phones import accepted_number_key

# Beginnings of a header's words (compared as imports.mapping.header_key writes it) that
# name a phone: "Telefon 2", "Tel. komórkowy", "Mobile phone".
PHONE_BEGINNINGS = ("tel", "phone", "komork", "mobile", "msisdn", "cell")
# Whole words that do: "Nr kontaktowy", "Kontakt" ("Osoba kontaktowa" is a person).
PHONE_WORDS = {"kontakt", "kontaktowy"}
# Headers naming a bare number, taken only where no header names a phone: "Nr klienta"
# ranked with "Nr kontaktowy", and the client ids were listed in place of the phones.
BARE_NUMBER_HEADERS = {"numer", "number", "nr"}
# Invalid lines listed to the user; the rest are counted.
MAX_LISTED = 100


@dataclass
class NumbersRead:
    keys: list[str] = field(default_factory=list)  # each number once, in the file's order
    invalid: list[tuple[int, str, str]] = field(default_factory=list)  # (line, value, why)
    invalid_count: int = 0
    repeated: int = 0
    column: str = ""  # the header of the column read
    sheet: str = ""  # a workbook's sheet read
    sheets_unread: list[str] = field(default_factory=list)  # its other visible sheets


def numbers_read(content: bytes, layout: FileLayout, *, most: int) -> NumbersRead:
    """The numbers of the file's phone column; raises imports.reading.FileProblem, also for
    a file of more than `most` numbers (read no further)."""
    column = phone_column(layout.headers)
    read, seen = NumbersRead(column=layout.headers[column]), set()
    rows = read_rows(content, layout)
    next(rows, None)  # the header
    for line, cells in rows:
        # An empty cell is listed too ("Enter a phone number."): skipped, its line went
        # unnoticed.
        value = cells[column].strip() if column < len(cells) else ""
        try:
            key = accepted_number_key(value)
        except ValidationError as error:
            read.invalid_count += 1
            if len(read.invalid) < MAX_LISTED:
                read.invalid.append((line, value[:40], " ".join(error.messages)))
            continue
        if key in seen:
            read.repeated += 1
        elif len(read.keys) == most:
            raise FileProblem(_("The file holds more than %(most)s numbers, the most one "
                                "upload takes: split it into files of at most %(most)s "
                                "numbers.") % {"most": number_format(most, force_grouping=True)})
        else:
            seen.add(key)
            read.keys.append(key)
    read.sheet = layout.sheet
    read.sheets_unread = [name for name, visible in layout.sheets.items()
                          if visible and name != layout.sheet]
    return read


def phone_column(headers: list[str]) -> int:
    """The index of the one column whose header names a phone, else of the one headed by a
    bare number ("Numer"); raises FileProblem when none or several are."""
    words = [header_key(header).split() for header in headers]
    named = [index for index, parts in enumerate(words)
             if any(part.startswith(PHONE_BEGINNINGS) or part in PHONE_WORDS for part in parts)]
    if not named:
        named = [index for index, parts in enumerate(words)
                 if " ".join(parts) in BARE_NUMBER_HEADERS]
    if len(named) == 1:
        return named[0]
    if named:
        raise FileProblem(_(
            "More than one column's header names a phone (%(headers)s), and the list reads "
            "one column: rename the others, or upload each as a file of its own.") % {
                "headers": quoted_headers(headers[index] for index in named)})
    raise FileProblem(header_refused(headers) or _(
        "No column's header names a phone (the headers are %(headers)s): name the column of "
        "numbers “Telefon” and upload the file again.") % {
            "headers": quoted_headers(header for header in headers if header)})


def quoted_headers(headers: Iterable[str]) -> str:
    """The headers for a message, each cut to 40 characters and in the quotation marks of
    the user's language (Polish opens with „, English with “)."""
    return ", ".join(_("“%(header)s”") % {"header": header[:40]} for header in headers)
