"""URL converters: a campaign id is five letters or digits, so anything else is a 404."""


class ThuliumIdConverter:
    regex = "[A-Za-z0-9]{5}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value

