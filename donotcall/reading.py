"""A file of numbers for the list, read by the imports' file reading (encodings, separators,
XLSX): the numbers it holds, the lines that hold none, and how many repeat."""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from imports.mapping import header_key
from imports.reading import FileLayout, FileProblem, read_rows
from portal.phones import accepted_number_key

# How a header that names the column of numbers begins one of its words (compared as
# imports.mapping.header_key writes it), the surest first: a "Numer klienta" column before
# the "Telefon" one was read as the numbers, and the phones went unlisted. Without one,
# the first column.
PHONE_HEADERS = (("tel", "phone", "komork", "mobile", "msisdn", "cell"), ("numer", "number", "nr"))
# Invalid lines listed to the user; the rest are counted.
MAX_LISTED = 100


@dataclass
class NumbersRead:
    keys: list[str] = field(default_factory=list)  # each number once, in the file's order
    invalid: list[tuple[int, str, str]] = field(default_factory=list)  # (line, value, why)
    invalid_count: int = 0
    repeated: int = 0


def numbers_read(content: bytes, layout: FileLayout, *, most: int) -> NumbersRead:
    """The numbers of the file's phone column; raises imports.reading.FileProblem, also for
    a file of more than `most` numbers (read no further)."""
    column = _phone_column(layout.headers)
    read, seen = NumbersRead(), set()
    for line, cells in read_rows(content, layout):
        value = cells[column].strip() if column < len(cells) else ""
        if not value:
            continue
        try:
            key = accepted_number_key(value)
        except ValidationError as error:
            if line == 1:
                continue  # the header
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
    return read


def _phone_column(headers: list[str]) -> int:
    words = [header_key(header).split() for header in headers]
    for beginnings in PHONE_HEADERS:
        for index, parts in enumerate(words):
            if any(part.startswith(beginnings) for part in parts):
                return index
    return 0
