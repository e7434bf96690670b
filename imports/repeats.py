"""The first row of a file holding each number or identifier, for telling the rows that
repeat it: Thulium refuses a number or an identifier the campaign already has.

A 20 MB file holds up to two million numbers. Kept in dictionaries, their first rows took
over 200 MB of the checking process; they are kept in a private SQLite database instead
(Python's own sqlite3), a few MB of its pages in memory and the rest in a temporary file,
read once per batch of rows.
"""

import sqlite3
from collections.abc import Iterable

# Values read in one statement: SQLite allows 32,766 parameters (3.32 and later).
_READ_AT_ONCE = 10_000


class FirstRows:
    """Each value's first row among those added so far: read a batch's values at once
    (`load`), then ask and add row by row, in the file's order."""

    def __init__(self):
        # "": a database of its own in a file that SQLite deletes as soon as it opens it,
        # so that no number outlives the check, even one whose process was killed.
        self._db = sqlite3.connect("")
        self._db.execute("CREATE TABLE first_row (value TEXT PRIMARY KEY, row INTEGER) "
                         "WITHOUT ROWID")
        self._loaded: dict[str, int] = {}
        self._asked: set[str] = set()

    def load(self, values: Iterable[str]) -> None:
        """Read the first rows of these values, in place of the last batch's."""
        self._asked = set(values)
        self._loaded = {}
        asked = list(self._asked)
        for start in range(0, len(asked), _READ_AT_ONCE):
            part = asked[start:start + _READ_AT_ONCE]
            marks = ", ".join("?" * len(part))
            self._loaded.update(self._db.execute(
                f"SELECT value, row FROM first_row WHERE value IN ({marks})", part))

    def get(self, value: str) -> int | None:
        if value in self._asked:
            return self._loaded.get(value)
        found = self._db.execute("SELECT row FROM first_row WHERE value = ?",
                                 [value]).fetchone()
        return found[0] if found else None

    def add(self, value: str, row: int) -> None:
        """Remember `row` as the first to hold `value` (which no earlier row holds)."""
        self._db.execute("INSERT INTO first_row VALUES (?, ?)", [value, row])
        if value in self._asked:
            self._loaded[value] = row

    def close(self) -> None:
        self._db.close()
