"""A record's choice among what Thulium lists for its campaign: a status, a dictionary
status, an agent.

A file's row has no list to choose from: its "Status" column holds what Thulium's panel
shows ("Kontakt potrzebny"), or an id mistyped. So a status is taken by its name too,
where no other status of the campaign bears it, and a refusal says what is accepted.
"""

from collections import Counter

from django import forms

# Accepted values a refusal names before "…": enough to see what the column should hold.
SHOWN_ACCEPTED = 5
EMPTY_CHOICE = ("", "---------")


def name_key(name: str) -> str:
    """A name as compared: "Kontakt  potrzebny " and "kontakt potrzebny" are one."""
    return " ".join(str(name).split()).casefold()


class ThuliumChoiceField(forms.ChoiceField):
    """One of the campaign's values (`offer`); its `invalid_choice` message takes the value
    and `accepted`, a few accepted values."""

    def __init__(self, *, refusal, **kwargs):
        super().__init__(error_messages={"invalid_choice": refusal}, **kwargs)
        self.names: dict[str, str] = {}
        self.by_name: dict[str, str] = {}

    def offer(self, choices: list[tuple[str, str]], names: dict[str, str] | None = None):
        """Accept the values of `choices` ((value, label) pairs), and each value by its name
        in `names` (value -> name) where no other value has that name."""
        self.choices = [EMPTY_CHOICE, *choices]
        self.names = names or {}
        counted = Counter(name_key(name) for name in self.names.values())
        self.by_name = {name_key(name): value for value, name in self.names.items()
                        if counted[name_key(name)] == 1}

    def to_python(self, value):
        value = super().to_python(value)
        if value and self.by_name and not self.valid_value(value):
            return self.by_name.get(name_key(value), value)
        return value

    def validate(self, value):
        try:
            super().validate(value)
        except forms.ValidationError as error:
            if error.code != "invalid_choice":
                raise
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice",
                params={"value": value, "accepted": self.accepted(value)}) from None

    def accepted(self, value: str) -> str:
        """A few accepted values, with their names ("3 (Kontakt potrzebny)"): those named
        as `value` is, if several are, else the first ones."""
        values = [key for key, _label in self.choices if key]
        alike = [key for key in values if name_key(self.names.get(key, "")) == name_key(value)]
        shown = alike if len(alike) > 1 else values[:SHOWN_ACCEPTED]
        said = [f"{key} ({self.names[key]})" if self.names.get(key) else key for key in shown]
        return ", ".join(said + ["…"] * (len(values) > len(shown))) or "—"
