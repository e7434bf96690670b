"""The preview's judgement of each row: the record form's rules, plus what only a file has.

Every row goes through `records.forms.RecordForm`, the form of a single addition, so a
row is held to exactly its rules; the file adds its own problems (ragged rows, formulas,
Excel's errors, numbers repeated within it).
"""

from django.core.exceptions import ValidationError
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from donotcall.lookup import ON_THE_LIST, blocked
from portal.phones import number_key
from records.forms import RecordForm, identifier_meant

from .models import RowState
from .repeats import FirstRows
from .sheets import ExcelError, HiddenRow, UnsavedFormula
from .storing import CheckedRow

# Cells kept to show a problem row; more than enough to recognise a value.
MAX_SHOWN_CELL = 200
# The errors Excel shows in a cell it cannot compute, as English and Polish Excel spell
# them: a CSV file holds them as text, a workbook's cell may too (pasted as values).
EXCEL_ERRORS = frozenset({
    "#N/A", "#N/D", "#REF!", "#ADR!", "#DIV/0!", "#DZIEL/0!", "#VALUE!", "#ARG!",
    "#NAME?", "#NAZWA?", "#NULL!", "#ZERO!", "#NUM!", "#LICZBA!",
})


class RowChecker:
    """Judges the cells of the file's rows one by one, remembering the earlier rows;
    `close` it when done."""

    def __init__(self, *, job, form: RecordForm):
        self.form = form
        self.width = len(job.headers)
        # A sheet's row simply ends at its last value; a CSV row must have every cell.
        self.short_rows_end_early = job.file_kind == "xlsx"
        # A workbook's cell says whether it holds a formula, and text is text whatever it
        # begins with ("=== VIP ==="); a CSV cell beginning with = is a formula, as Excel
        # computes it when it opens the file.
        self.formulas_typed = job.file_kind == "xlsx"
        self.columns = [(index, target) for index, target in enumerate(job.mapping) if target]
        self.labels = {name: str(field.label) for name, field in form.fields.items()}
        self.first_row_of_phone = FirstRows()
        self.first_row_of_identifier = FirstRows()

    def check_all(self, rows: list[tuple[int, list[str]]]) -> list[CheckedRow]:
        """A batch of rows judged, with what the portal added of their numbers and
        identifiers read at once for the batch (not a query per row); a row Excel hides
        set apart unjudged, keeping nothing of its person."""
        mapped = [(number, cells, self.mapped(cells)) for number, cells in rows
                  if not isinstance(cells, HiddenRow)]
        phones, identifiers = set(), set()
        for _number, _cells, data in mapped:
            # As the form reads it, so that the batch's reading answers the form.
            identifiers.add(identifier_meant(data.get("identifier", "")))
            try:
                phones.add(number_key(data.get("phone_number", "")))
            except ValidationError:
                continue  # the form will say why
        self.form.earlier.load(phones, identifiers)
        self.first_row_of_phone.load(phones)
        self.first_row_of_identifier.load(filter(None, identifiers))
        checked = {number: self.check(number, cells, data) for number, cells, data in mapped}
        return [checked[number] if number in checked else _hidden_row(number)
                for number, _cells in rows]

    def mapped(self, cells: list[str]) -> dict[str, str]:
        """The row's values by the form field each column is mapped to."""
        return {target: cells[index].strip() if index < len(cells) else ""
                for index, target in self.columns}

    def check(self, number: int, cells: list[str], data: dict[str, str]) -> CheckedRow:
        """The row as the preview judges it (`data`: its cells as `mapped` gives them):
        queued to send, or why not."""
        problems = self.file_problems(cells, data)
        if problems:
            return self.problem_row(number, data, RowState.INVALID, problems,
                                    _key_if_any(data.get("phone_number", "")))
        form = self.form.rebind(data)
        if not form.is_valid():
            return self.problem_row(number, data, self.form_state(form),
                                    self.form_problems(form), form.number_key)
        payload = form.to_payload()
        repeated = self.repeated(number, form.number_key, payload.get("identifier"))
        if repeated:
            return self.problem_row(number, data, RowState.DUPLICATE, [repeated],
                                    form.number_key)
        return CheckedRow(number, RowState.QUEUED, payload["phone_number"], form.number_key,
                          payload)

    def file_problems(self, cells, data) -> list[str]:
        problems = []
        filled = len(cells)
        while filled > self.width and not cells[filled - 1].strip():
            filled -= 1  # a trailing separator adds an empty cell, which harms nothing
        if filled > self.width:
            problems.append(self.too_wide(filled))
        elif filled < self.width and not self.short_rows_end_early:
            problems.append(
                ngettext("This row has %(cells)d cell where the header has %(columns)d: a "
                         "cell may hold an unquoted separator or line break.",
                         "This row has %(cells)d cells where the header has %(columns)d: a "
                         "cell may hold an unquoted separator or line break.", filled)
                % {"cells": filled, "columns": self.width}
            )
        for index, target in self.columns:
            cell = cells[index] if index < len(cells) else ""
            # Sent, Thulium would keep the error as the person's name or identifier.
            if isinstance(cell, ExcelError) or cell.strip() in EXCEL_ERRORS:
                problems.append(
                    _("%(column)s holds Excel's error %(error)s: correct the cell in the "
                      "file.") % {"column": self.labels[target], "error": cell.strip()[:40]})
            # A formula is never evaluated: its text would reach Thulium instead of a value.
            elif (isinstance(cell, UnsavedFormula) if self.formulas_typed
                  else cell.strip().startswith("=")):
                problems.append(
                    _("%(column)s holds a formula (%(formula)s); the portal imports values "
                      "only: paste the values into the spreadsheet instead.")
                    % {"column": self.labels[target], "formula": cell.strip()[:40]}
                )
        return problems

    def too_wide(self, filled: int) -> str:
        """Why a row with values past the header's last named column is not sent: a value
        no column is named for (a note typed beside the row) would be lost, and in a CSV
        file a separator inside a cell shifts the cells after it."""
        said = {"cells": filled, "columns": self.width}
        if self.short_rows_end_early:  # a sheet's cells cannot shift
            return ngettext(
                "This row has values in %(cells)d columns; the header names %(columns)d: "
                "name the column in the header row, or delete its values.",
                "This row has values in %(cells)d columns; the header names %(columns)d: "
                "name the columns in the header row, or delete their values.",
                filled - self.width) % said
        return _("This row has values in %(cells)d columns; the header names %(columns)d: a "
                 "cell may hold an unquoted separator or line break, or a value was typed "
                 "past the last named column (name its column in the header row).") % said

    def form_problems(self, form) -> list[str]:
        return [
            f"{self.labels[name]}: {strip_tags(message)}" if name in self.labels
            else strip_tags(message)
            for name, messages in form.errors.items() for message in messages
        ]

    @staticmethod
    def form_state(form) -> str:
        phone_errors = form.errors.as_data().get("phone_number", [])
        if any(error.code == "duplicate" for error in phone_errors):
            return RowState.ALREADY_ADDED
        return RowState.INVALID

    def repeated(self, number, key, identifier) -> str:
        """Why the row repeats an earlier one of the file, or ""; Thulium refuses both."""
        if (first := self.first_row_of_phone.get(key)) is not None:
            return _("The same phone number as row %(row)d.") % {"row": first}
        if identifier and (first := self.first_row_of_identifier.get(identifier)) is not None:
            return _("The same identifier as row %(row)d.") % {"row": first}
        self.first_row_of_phone.add(key, number)
        if identifier:
            self.first_row_of_identifier.add(identifier, number)
        return ""

    def close(self) -> None:
        self.first_row_of_phone.close()
        self.first_row_of_identifier.close()

    @staticmethod
    def problem_row(number, data, state, problems, key: str) -> CheckedRow:
        """A row not to send, with its number's key when it has one: an erasure finds the
        person's rows by it."""
        return CheckedRow(
            number, state, data.get("phone_number", "")[:40], key,
            values={target: value[:MAX_SHOWN_CELL] for target, value in data.items()},
            problems=problems,
        )


def _hidden_row(number: int) -> CheckedRow:
    """A row Excel hides, set apart saying why: the loader filtered it out (the people who
    did not agree), or hid it by hand."""
    return CheckedRow(number, RowState.HIDDEN, problems=[_(
        "Excel hides this row (filtered out, or hidden by hand), so it is not sent: to send "
        "it, show it in Excel and upload the file again.")])


def _key_if_any(phone: str) -> str:
    try:
        return number_key(phone)
    except ValidationError:
        return ""


def suppressed_set_apart(campaign, rows: list[CheckedRow]) -> list[CheckedRow]:
    """The rows, those to send whose number is on the do-not-call list set apart: the list
    is asked about a batch of rows at once, not row by row."""
    found = blocked(campaign, [row.phone_key for row in rows if row.state == RowState.QUEUED])
    if not found:
        return rows
    return [row._replace(state=RowState.SUPPRESSED, payload=None, problems=[str(ON_THE_LIST)])
            if row.state == RowState.QUEUED and row.phone_key in found else row
            for row in rows]
