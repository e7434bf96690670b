"""English dates as the audit needs them: to the second, day before month, 24-hour clock."""

DATE_FORMAT = "j N Y"  # as DATETIME_FORMAT writes the day: one spelling a page
DATETIME_FORMAT = "j N Y, H:i:s"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i:s"
