"""The first field with an error takes the focus when a refused form comes back."""

from django.forms import BoundField
from django.forms.renderers import DjangoTemplates


def field_to_focus(form) -> str | None:
    """The name of the form's first shown field with an error, in the page's order (an
    error clean() adds comes after the fields' own); None if only the form as a whole
    was refused."""
    return next((name for name, field in form.fields.items()
                 if name in form.errors and not field.widget.is_hidden), None)


class FirstErrorFocused(BoundField):
    """A form's field that the page focuses when it is the first one with an error: a screen
    reader then reads its label, that it is invalid and why (its aria-describedby), and a
    keyboard user types the correction at once. It alone: a field focused whenever the
    page opens (the login's, the password's) yields to it."""

    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        if self.form.errors and (focused := field_to_focus(self.form)):
            attrs["autofocus"] = self.name == focused
        return attrs


class FocusingFormRenderer(DjangoTemplates):
    """Django's form renderer, as FORM_RENDERER, whose fields are FirstErrorFocused: every
    form of the portal (and Django's own, such as the password change) focuses its first
    error without having to remember to."""

    bound_field_class = FirstErrorFocused
