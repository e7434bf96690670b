"""The first field with an error takes the focus when a refused form comes back."""

from django.forms import BoundField


class FirstErrorFocused(BoundField):
    """A form's field that the page focuses when it is the first one with an error: a screen
    reader then reads its label, that it is invalid and why (its aria-describedby), and a
    keyboard user types the correction at once. A form opts in by `bound_field_class`."""

    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        if self.errors and self.name == self._first_with_an_error():
            attrs["autofocus"] = True
        return attrs

    def _first_with_an_error(self) -> str | None:
        # In the page's order: an error clean() adds comes after the fields' own.
        return next((name for name, field in self.form.fields.items()
                     if name in self.form.errors and not field.widget.is_hidden), None)
