"""A date and time a user types, on a form or in an import's cell, read in the portal's time
zone (TIME_ZONE); and a day alone (a filter's, an expiry's), read the same two ways.

Polish call centres keep their records in spreadsheets, which write a date and time the
Polish way ("24.12.2026 10:00"), as the portal itself shows them in Polish; a browser's
date-time input and Thulium write ISO 8601. Both are read, and nothing that could be read
two ways (01/12/2026 is a January day to some and a December day to others). A date alone,
in either spelling, is the start of that day (`day_start`): "call no sooner than
24.12.2026". A day with no time (a campaign's start and end) is read in the same two
spellings.
"""

import datetime

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

# Tried after ISO 8601 in any of its forms, which Django's DateTimeField reads first: what a
# browser's datetime-local input posts (minutes; seconds when a script sets them), then
# the Polish spelling, to the minute or the second, or the day (ISO's day alone is read by
# Django's first reading).
INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                 "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y"]
# A day alone: ISO 8601, as a browser's date input posts it, or the Polish spelling.
# Django's own formats for the language also read "01/12/2026" (as 12 January in English).
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d.%m.%Y"]

# The days a date typed may fall on: year 1 or 9999 is a slip of the keyboard (each was
# sent to Thulium), and far dates overflow time zone arithmetic.
EARLIEST_DATE = datetime.date(2000, 1, 1)
LATEST_DATE = datetime.date(2999, 12, 31)
DATE_RANGE = [MinValueValidator(EARLIEST_DATE), MaxValueValidator(LATEST_DATE)]

# The zone's name in a message, read when the message is shown (settings may change).
zone_name = lazy(lambda: settings.TIME_ZONE, str)


def day_start(day: datetime.date) -> datetime.datetime:
    """The first moment of a day in the portal's time zone: its midnight, or where the
    clocks change at midnight (Chile's, Cuba's), the moment they jump to, or the first of
    the two midnights they repeat."""
    # A skipped midnight read with the offset before the jump (fold 0) is the jump itself.
    midnight = datetime.datetime.combine(day, datetime.time.min,
                                         tzinfo=timezone.get_current_timezone())
    return timezone.localtime(midnight.astimezone(datetime.UTC))


def _day_alone(value) -> datetime.date | None:
    """The day a text names with no time, in a spelling of DATE_INPUT_FORMATS; else None."""
    for spelling in DATE_INPUT_FORMATS if isinstance(value, str) else ():
        try:
            return datetime.datetime.strptime(value.strip(), spelling).date()
        except ValueError:
            continue
    return None


class LocalMomentField(forms.DateTimeField):
    """A date and time in the portal's time zone; a time the clocks skip or repeat there
    is refused, naming the cause, rather than taken as one or the other (one written with
    its offset, "2027-10-31T02:30+01:00", is one moment, and taken)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=INPUT_FORMATS[0])
    default_error_messages = {
        "invalid": _("Enter a date and time as YYYY-MM-DD HH:MM or DD.MM.YYYY HH:MM."),
    }

    def __init__(self, **kwargs):
        super().__init__(input_formats=INPUT_FORMATS, **kwargs)

    def to_python(self, value):
        day = _day_alone(value)
        if day is not None and EARLIEST_DATE <= day <= LATEST_DATE:
            # Read as a midnight, a date alone was refused as a time the clocks skip or
            # repeat in a zone that changes them at midnight, though no time was typed.
            return day_start(day)
        try:
            moment = super().to_python(value)
            if moment is not None:
                # A moment written with a zone, at the calendar's edge, has no local time
                # ("9999-12-31T23:59-05:00"): the form failed with a server error.
                timezone.localtime(moment)
            return moment
        except OverflowError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        except forms.ValidationError as error:
            if error.code != "ambiguous_timezone":
                raise
            # Django's own words name the zone but not the cause: the clocks changing.
            raise forms.ValidationError(
                _("%(value)s does not exist or happens twice in %(zone)s, as the clocks "
                  "change then: choose another time."),
                # As people write it: a browser's input posts "2027-03-28T02:30".
                code="clock_change", params={"value": str(value).replace("T", " "),
                                             "zone": settings.TIME_ZONE},
            ) from None

    def validate(self, value):
        super().validate(value)
        if value is not None and not (
                EARLIEST_DATE <= timezone.localtime(value).date() <= LATEST_DATE):
            raise forms.ValidationError(
                _("Enter a date between %(first)s and %(last)s."), code="out_of_range",
                params={"first": EARLIEST_DATE.year, "last": LATEST_DATE.year})


class TypedDateField(forms.DateField):
    """A day typed in either spelling of DATE_INPUT_FORMATS, and no other: a filter, an
    expiry or a campaign's date read as another day than the one meant would silently
    show, block or send the wrong days. Between EARLIEST_DATE and LATEST_DATE unless the
    field says otherwise; shown in a browser's date input."""

    widget = forms.DateInput(attrs={"type": "date"}, format=DATE_INPUT_FORMATS[0])
    default_error_messages = {"invalid": _("Enter a date as YYYY-MM-DD or DD.MM.YYYY.")}

    def __init__(self, *, validators=DATE_RANGE, **kwargs):
        super().__init__(input_formats=DATE_INPUT_FORMATS, validators=validators, **kwargs)
