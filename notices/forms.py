from django import forms

from .kinds import Kind


class NoticeChoicesForm(forms.Form):
    """A switch per kind of notice the user gets, on unless they turned it off."""

    def __init__(self, *args, kinds: list[Kind], **kwargs):
        super().__init__(*args, **kwargs)
        for kind in kinds:
            self.fields[kind.slug] = forms.BooleanField(label=kind.label, required=False)

    def wanted(self) -> set[str]:
        return {slug for slug, on in self.cleaned_data.items() if on}
