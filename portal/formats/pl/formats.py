"""Polish dates as the audit needs them: to the second, written the Polish way."""

DATETIME_FORMAT = "j E Y, H:i:s"
SHORT_DATE_FORMAT = "d.m.Y"
SHORT_DATETIME_FORMAT = "d.m.Y H:i"
TIME_FORMAT = "H:i:s"
