"""A change in business terms: each value sent, by its path, beside the value it replaced."""

import json
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

_ABSENT = object()


@dataclass(frozen=True)
class FieldChange:
    path: str  # "dialer", "parameters.caller_id", "record_fields.imie"
    before: object
    after: object
    label: str = ""  # the field in the user's words, where its app names it
    # The values in the user's words, where its app names them ("predykcyjny", "tak").
    before_words: str = ""
    after_words: str = ""

    @property
    def before_text(self) -> str:
        return str(_("(not set)")) if self.before is _ABSENT else shown(self.before)

    @property
    def after_text(self) -> str:
        return shown(self.after)

    @property
    def changed(self) -> bool:
        return self.before != self.after


def no_label(path: str) -> None:
    """For fields known by their path alone."""
    return None


def no_value_label(path: str, value) -> None:
    """For values that are their own words."""
    return None


def field_changes(before: dict, sent: dict, label: Callable[[str], str | None] = no_label,
                  value_label: Callable[[str, object], str | None] = no_value_label
                  ) -> list[FieldChange]:
    """Every value sent, by path, with what was known before it (if anything), and the
    field's name and values in the user's words as `label` and `value_label` give them.

    Sorted by path: PostgreSQL's jsonb does not keep the order keys were sent in.
    """
    known = _flatten(before if isinstance(before, dict) else {})
    changes = []
    for path, value in sorted(_flatten(sent if isinstance(sent, dict) else {}).items()):
        earlier = known.get(path, _ABSENT)
        changes.append(FieldChange(
            path, earlier, value, str(label(path) or ""),
            before_words="" if earlier is _ABSENT else str(value_label(path, earlier) or ""),
            after_words=str(value_label(path, value) or "")))
    return changes


def flat_paths(sent) -> list[str]:
    return sorted(_flatten(sent if isinstance(sent, dict) else {}))


def shown(value) -> str:
    """A value as Thulium's JSON has it, strings without their quotes."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _flatten(values: dict, prefix: str = "") -> dict:
    # Thulium merges nested objects (`parameters`) key by key, so each key is its own field.
    flat = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat
