"""Phone numbers as the record form accepts them and as the portal compares them."""

import re
from collections.abc import Iterator
from functools import lru_cache
from itertools import islice

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.signals import request_finished
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

from .invisible import without_invisible
from .spreadsheets import EXCEL_SCIENTIFIC

# Dashes other than "-" that a word processor or Excel's autocorrect puts between digits
# ("601–234–567"): hyphen, non-breaking hyphen, figure, en and em dash, horizontal bar, minus.
DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
# What people type between digits: "(22) 123-45-67", "601 234 567", "+48.601.234.567".
_SEPARATORS = re.compile(rf"[\s\-.()\[\]/{DASHES}]")
# A number spelled inside a longer text: digits and what people type between them, after
# a + and brackets ("601 234 567 wew. 12", "tel. 601-234-567"); then with underscores and
# commas between the digits too ("601_234_567", Excel's thousands "601,234,567"), which
# the record form refuses but a person's number it still is; then each run of digits
# alone (two numbers only a space apart, "601234567 602000001", read as one spelling).
_SPELLINGS = (re.compile(rf"[(\[+]*[0-9][0-9 \-.()\[\]/{DASHES}]*"),
              re.compile(rf"[(\[+]*[0-9][0-9 \-.()\[\]/{DASHES}_,]*"),
              re.compile(r"\+?[0-9]{6,}"))
# The spaces Excel and word processors group digits with, read as spaces.
_AS_SPACES = str.maketrans(dict.fromkeys("\u00a0\u2007\u202f", " "))
# Dates and times, whose digits run on into a number's ("leady 22.11.2025 (1).csv",
# "dzwonił 15.12.2025 8:15"): no part of one.
_DATES_AND_TIMES = re.compile(
    r"(?<![0-9])(?:[0-9]{1,2}[./-][0-9]{1,2}[./-](?:19|20)[0-9]{2}"
    r"|(?:19|20)[0-9]{2}[./-][0-9]{1,2}[./-][0-9]{1,2}|[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)"
    r"(?![0-9])")
# What people write between two numbers in one cell (`check_one_number`): "601 234 567/8",
# "601234567, 602000001", "601234567 lub 602000001".
_BETWEEN_NUMBERS = re.compile(r"[/,;|]|\b(?:lub|albo|oraz|i|or|and)\b", re.IGNORECASE)
# What a value is read for at most, for its numbers (`phone_keys_in`): more is no field's or
# column name's, and each is parsed (a header of 13,000 "100000000/" took seconds).
MOST_SPELLINGS = 32
# [0-9], not \d: \d also matches non-ASCII digits (e.g. full-width) no dialer takes.
_ACCEPTED = re.compile(r"\+?[0-9]{6,15}")
# A number as a program that took it for a decimal writes it ("601234567.0" from pandas,
# "601 234 567,00" from a cell formatted with thousands and decimals): the point and zeros
# are no digits of it, where the separators' rule would make them one more ("6012345670").
# A decimal point is the number's only point or comma and follows three digits at least (a
# group of thousands): "22.555.66.00" and "22 555 66.00" keep their last digits.
_AS_DECIMAL = re.compile(rf"\s*(\+?[0-9][0-9\s\-()\[\]/{DASHES}]*[0-9]{{3}})[.,]0+\s*")
# "+48 (0) 601 234 567": the country code, then the trunk 0 a caller in the country dials,
# bracketed so as not to be dialled from abroad. Kept, it made another, invalid number.
_TRUNK_ZERO = re.compile(r"^(\s*(?:\+|00)[\s\-.]*[0-9]{1,3}[\s\-.]*)\(0\)")


def without_separators(raw: str) -> str:
    """The number as typed, without the spaces, dashes, dots, brackets and slashes people
    write between its digits."""
    return _SEPARATORS.sub("", raw or "")


def normalise_phone(raw: str) -> str:
    """The number with separators removed and one leading `+` kept; raises ValidationError."""
    raw = without_invisible(raw or "")
    if as_decimal := _AS_DECIMAL.fullmatch(raw):
        raw = as_decimal.group(1)
    raw = _TRUNK_ZERO.sub(r"\1", raw)
    number = without_separators(raw)
    if not number:
        raise ValidationError(_("Enter a phone number."), code="required")
    if EXCEL_SCIENTIFIC.fullmatch(raw.strip()):
        raise ValidationError(
            _("Excel wrote this number in scientific notation (%(value)s), which has lost its "
              "last digits: upload the .xlsx workbook itself, or format the column as Text in "
              "Excel and save the CSV again."),
            code="scientific", params={"value": raw.strip()},
        )
    if not _ACCEPTED.fullmatch(number):
        raise ValidationError(
            _(
                "Enter a phone number of 6 to 15 digits; spaces, dashes, dots and brackets "
                "are allowed, and one + at the start."
            ),
            code="invalid",
        )
    return _without_trunk_zero(number)


def check_one_number(typed: str) -> None:
    """Raises ValidationError when the text holds a whole number and, after a "/", a comma,
    a semicolon or a word such as "lub", more digits: a second number ("22 123 45 67/68",
    "601234567, 602000001"). Read as a separator, the "/" glued the two into a third
    number, which was sent and called, and which the do-not-call list did not block. A "/"
    inside a number ("[22] 555/66/77", what comes before it no number) is a separator still."""
    text = without_invisible(typed or "")
    if _AS_DECIMAL.fullmatch(text):
        return  # "601 234 567,00": a decimal comma, no list
    for found in _BETWEEN_NUMBERS.finditer(text):
        if _A_DIGIT.search(text, found.end()) and is_phone_number(text[:found.start()]):
            raise ValidationError(
                _("This holds two numbers (the second after “%(separator)s”), which would be "
                  "sent glued into one wrong number: keep one number here and put the other "
                  "in a column or a row of its own."),
                code="two_numbers", params={"separator": found.group().strip()},
            )


def check_own_country(number: str) -> None:
    """Raises ValidationError when the number (as `normalise_phone` gives it) is no number
    of the default region's plan: written without a country code ("6012345678", a digit too
    many), or after the region's ("+48", "0048", or "48" before more digits than a national
    number has) with what follows none ("4860123456": 60123456, a digit lost). A "48"
    number as long as the longest national number, valid neither as written nor after the
    country code, is judged after the code ("4850123456"). Other countries' numbers are not
    judged (their plans change without the portal knowing)."""
    region = settings.PHONE_DEFAULT_REGION
    parsed = _read(number)
    if parsed is None:
        return  # a country code no plan has: another country's, not judged
    if parsed.country_code_source == phonenumbers.CountryCodeSource.FROM_DEFAULT_COUNTRY:
        if phonenumbers.is_valid_number(parsed):
            return
        # phonenumbers takes most "48" and eight digits for a possible national number
        # ("4850123456"), and none is valid: one that long is judged as written after
        # the country code.
        if not _maybe_after_country_code(number, region):
            raise ValidationError(
                _("Written without a country code, this is read as a number of the country "
                  "code %(code)s, and it is no number of that country: check its digits, or "
                  "write another country's number with + and its country code."),
                code="not_national",
                params={"code": phonenumbers.country_code_for_region(region)},
            )
        parsed = phonenumbers.parse(f"+{number}")
    if (parsed.country_code != phonenumbers.country_code_for_region(region)
            or phonenumbers.is_valid_number(parsed)):
        return
    raise ValidationError(
        _("This number starts with the country code %(code)s, but what follows (%(rest)s) "
          "is no number of that country: check its digits."),
        code="not_in_country",
        params={"code": parsed.country_code,
                "rest": phonenumbers.national_significant_number(parsed)},
    )


def _maybe_after_country_code(number: str, region: str) -> bool:
    """Whether `number`, written without "+" or "00", may be one written after the region's
    country code: it starts with the code and is as long as the region's longest national
    number at least (a shorter one, "4812345", may be an internal number)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or not metadata.general_desc.possible_length:
        return False
    code = str(phonenumbers.country_code_for_region(region))
    return (number.isdigit() and number.startswith(code)
            and len(number) >= max(metadata.general_desc.possible_length))


def _without_trunk_zero(number: str) -> str:
    """A national number written with a leading 0 where its country dials none (Poland
    dropped it in 2005, but "0601 234 567" and "(0-22) 555 66 77" are still written): the
    number without it, when that is a valid number and the one written is not. Kept, it
    was keyed apart from the same number written without the 0, so the do-not-call list
    and the duplicates check missed it, and Thulium was sent a number no one can dial."""
    if not number.startswith("0") or number.startswith("00"):
        return number
    region = settings.PHONE_DEFAULT_REGION
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.national_prefix:
        return number  # a country that dials a trunk 0: phonenumbers reads it
    if _valid(number, region) or not _valid(number[1:], region):
        return number
    return number[1:]


def key_without_trunk_zero(key: str) -> str:
    """A key made before numbers were read without a trunk 0 ("480601234567"): as it is
    keyed now ("48601234567"), when dropping the 0 after the country code alone makes it a
    valid number; else the key as it is."""
    try:
        parsed = phonenumbers.parse(f"+{key}")
    except phonenumbers.NumberParseException:
        return key
    country = str(parsed.country_code)
    rest = key[len(country):]
    if phonenumbers.is_valid_number(parsed) or not rest.startswith("0"):
        return key
    without = f"{country}{rest[1:]}"
    return without if _valid(f"+{without}", settings.PHONE_DEFAULT_REGION) else key


def keys_ever(key: str) -> list[str]:
    """The number's key and, for one valid without a trunk 0, the key it had before numbers
    were read without one ("480601234567"): what the portal wrote then is still under it
    (the migrations re-keyed the added records and the do-not-call list, not the audit
    trail's search terms nor import rows, and left a record whose new key was taken)."""
    try:
        country = str(phonenumbers.parse(f"+{key}").country_code)
    except phonenumbers.NumberParseException:
        return [key]
    before = f"{country}0{key[len(country):]}"
    return [key, before] if key_without_trunk_zero(before) == key else [key]


def _valid(number: str, region: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, region))
    except phonenumbers.NumberParseException:
        return False


# An addition keys its number three times (the form's check, the added-records row, the
# audit search term) and judges it by the plan once, and parsing is the slow part of each.
# The numbers are kept only while the request or the import that keys them runs
# (`forget_keyed_numbers`).
@lru_cache(maxsize=4096)
def _read(number: str) -> phonenumbers.PhoneNumber | None:
    """The number (as `normalise_phone` gives it) by the default region's plan, or None
    when it does not parse. Shared: not to be changed."""
    try:
        return phonenumbers.parse(number, settings.PHONE_DEFAULT_REGION, keep_raw_input=True)
    except phonenumbers.NumberParseException:
        return None


@lru_cache(maxsize=4096)
def phone_key(number: str) -> str:
    """One form for the same number written nationally or internationally (E.164 if it parses)."""
    parsed = _read(number)
    if parsed is None:
        return number.lstrip("+")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def number_to_send(number: str) -> str:
    """The one spelling Thulium is sent of a number the record form accepted: Thulium
    refuses a duplicate as it is written (its documentation leaves normalising open), and
    "+48 601 234 567" sent beside the "601234567" it held added the person twice. A number
    of the default region: its national significant number, as Thulium's examples
    ("333444555") and the numbers loaded in its own panel are written and Poland's callers
    dial them. Another country's, or one of a region that dials a trunk prefix (no one
    there dials the number without it): E.164 with its "+". One no plan reads: as written."""
    parsed = _read(number)
    if parsed is None:
        return number
    region = settings.PHONE_DEFAULT_REGION
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if (parsed.country_code == phonenumbers.country_code_for_region(region)
            and metadata is not None and not metadata.national_prefix):
        return phonenumbers.national_significant_number(parsed)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@receiver(request_finished, dispatch_uid="portal.phones.forget_keyed_numbers")
def forget_keyed_numbers(**_kwargs) -> None:
    """Drop the numbers kept for keying: a long-lived web or worker process must not hold
    a number after its work, when it may have been erased since (GDPR art. 17)."""
    phone_key.cache_clear()
    _read.cache_clear()


def significant_digits(key: str) -> str:
    """The digits every spelling of the keyed number holds in a row, whether written with
    its country code or without: its national significant number."""
    try:
        return phonenumbers.national_significant_number(phonenumbers.parse(f"+{key}"))
    except phonenumbers.NumberParseException:
        return key  # a key that did not parse is the number's own digits


def phone_keys_in(value) -> frozenset[str] | set[str]:
    """The keys (`number_key`) of the phone numbers, by their country's plan, a value spells
    anywhere in it: a mobile in a record's field, alone or in a comment; an amount or a date
    is none."""
    text = value if type(value) is str else str(value) if type(value) is int else ""
    # Most values are words: no parsing for what holds too few digits to be a number (an
    # import's claim looks in every field of thousands of records).
    if not _A_DIGIT.search(text) or not _SIX_DIGITS.match(text):
        return _NONE
    return {number_key(part) for part in _spelled(text, most=MOST_SPELLINGS)
            if is_phone_number(part)}


_A_DIGIT = re.compile(r"[0-9]")
_SIX_DIGITS = re.compile(r"(?:[^0-9]*[0-9]){6}")
_NONE = frozenset()


def spells_a_phone_number(text: str) -> bool:
    """True when the text spells a phone number (`is_phone_number`) anywhere in it."""
    return bool(phone_keys_in(text))


def spells_number(text: str, key: str) -> bool:
    """True when the text spells the number keyed `key` (`number_key`) anywhere in it (a
    line of a file, for an erasure: however many numbers it holds)."""
    for part in _spelled(text):
        try:
            if number_key(part) == key:
                return True
        except ValidationError:
            continue
    return False


def numbers_spelled(text: str) -> Iterator[tuple[int, int, str]]:
    """Where the text may spell a number: (start, end, the spelling without its underscores
    and commas) of each, ending at its last digit, no-break spaces read as spaces.
    Spellings overlap: each pattern reads the whole text."""
    text = text.translate(_AS_SPACES)  # a character for a character: the places stay
    for pattern in _SPELLINGS:
        for found in pattern.finditer(text):
            spelled = found.group()
            end = found.start() + _TO_LAST_DIGIT.match(spelled).end()
            yield found.start(), end, text[found.start():end].replace("_", "").replace(",", "")


# A spelling up to its last digit (what follows it, a space or a dash, is the text's).
_TO_LAST_DIGIT = re.compile(r".*[0-9]", re.DOTALL)


def _spelled(text: str, *, most: int | None = None) -> Iterator[str]:
    """What in the text may spell a number (at most `most` of them): each spelling, and the
    two numbers of one written with a slash between them; dates and times left out."""
    text = _DATES_AND_TIMES.sub(" | ", without_invisible(text))
    spellings = (spelling for _start, _end, spelling in numbers_spelled(text))
    parts = (part for spelling in spellings
             for part in (spelling, *(spelling.split("/") if "/" in spelling else ())))
    yield from islice(parts, most)


def is_phone_number(raw: str) -> bool:
    """True when the text is a number a phone may have by its country's plan, not merely 6
    to 15 digits: a date such as "01.12.2026" is none."""
    try:
        number = normalise_phone(raw)
        parsed = phonenumbers.parse(number, settings.PHONE_DEFAULT_REGION)
    except (ValidationError, phonenumbers.NumberParseException):
        return False
    return phonenumbers.is_valid_number(parsed)


def number_key(raw: str) -> str:
    """The canonical key of a number as typed; raises ValidationError if it is not one."""
    return phone_key(normalise_phone(raw))


def accepted_number_key(raw: str) -> str:
    """The canonical key of a number the record form accepts (`check_one_number`,
    `normalise_phone`, then `check_own_country`); raises ValidationError with the record
    form's message. The do-not-call list keys by it: "+48 0601 234 567", refused by the
    record form, was listed under a key that blocked no spelling the form sends."""
    if key := _national_key(raw):
        return key
    check_one_number(raw)
    number = normalise_phone(raw)
    check_own_country(number)
    return phone_key(number)


# A number written as the default region's national digits alone ("601234567").
_NATIONAL_DIGITS = re.compile(r"[1-9][0-9]{5,14}")


def _national_key(raw: str) -> str:
    """The key of a number written as the default region's national digits alone and valid
    by its plan, as `accepted_number_key` gives it, but judged by the plan's patterns
    themselves: parsing it and phonenumbers' judging took 40 s of the reading of a
    do-not-call list of 200,000 numbers on a loaded machine, this takes 2. "" for any
    other spelling or number, which is read the full way.

    Such a number has nothing to strip nor to refuse before it is judged (no separator,
    trunk 0, "+" or second number), and it is not taken where the parsing might read it
    otherwise: beginning with the country code, or in a region whose plan strips a
    national prefix or shares its country code (see `_plan`)."""
    plan = _plan(settings.PHONE_DEFAULT_REGION)
    if plan is None or not _NATIONAL_DIGITS.fullmatch(raw or ""):
        return ""
    code, general, kinds = plan
    if raw.startswith(code) or not _matches(raw, general) or not any(
            _matches(raw, kind) for kind in kinds):
        return ""
    return f"{code}{raw}"


def _matches(number: str, described: tuple[frozenset[int], re.Pattern]) -> bool:
    lengths, pattern = described
    return (not lengths or len(number) in lengths) and pattern.fullmatch(number) is not None


@lru_cache(maxsize=8)
def _plan(region: str) -> tuple[str, tuple, tuple] | None:
    """(country code, the general description, those of each kind of number) of the region's
    plan, each as its possible lengths and compiled pattern, as phonenumbers judges a
    number valid (`is_valid_number`: it matches the general one and one kind's); None for
    a region whose numbers `_national_key` leaves to the full reading: one whose plan
    strips a national prefix, or whose country code is another region's too (phonenumbers
    then judges by the region the number fits)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if (metadata is None or metadata.national_prefix or metadata.national_prefix_for_parsing
            or len(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(metadata.country_code, ()))
            != 1):
        return None
    kinds = (metadata.premium_rate, metadata.toll_free, metadata.shared_cost, metadata.voip,
             metadata.personal_number, metadata.pager, metadata.uan, metadata.voicemail,
             metadata.fixed_line, metadata.mobile)
    return (str(metadata.country_code), _described(metadata.general_desc),
            tuple(_described(kind) for kind in kinds
                  if kind is not None and kind.national_number_pattern))


def _described(desc) -> tuple[frozenset[int], re.Pattern]:
    return frozenset(desc.possible_length), re.compile(desc.national_number_pattern)
