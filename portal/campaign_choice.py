"""A campaign chosen in a form: a select while the portal has few, a typed id or name beyond.

A contact center may hold thousands of campaigns: a select of them all made each filter
page heavy (5,000 options, every campaign read with its settings JSON at each view). Beyond
SELECT_MOST the field is a text box taking the campaign's Thulium id or its exact name,
checked here. The query string still holds the Thulium id, so links and bookmarks work.
The model is passed in (`fit`): audit, which uses it too, imports no feature app.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

SELECT_MOST = 200


class CampaignField(forms.Field):
    """A campaign (its pk, Thulium id and name only), one of `extra`'s values, or None."""

    def __init__(self, *, empty_label, extra=(), typed_help=None, **kwargs):
        super().__init__(required=False, widget=forms.Select, **kwargs)
        self.empty_label = empty_label
        self.extra = list(extra)
        self.typed_help = typed_help or _(
            "The campaign's Thulium id or its exact name; empty for every campaign.")
        self.campaigns = None

    def fit(self, campaigns) -> None:
        """Offers `campaigns` as options if SELECT_MOST or fewer, else a text box for one."""
        self.campaigns = campaigns.only("pk", "thulium_id", "name").order_by("name")
        few = list(self.campaigns.values_list("thulium_id", "name")[:SELECT_MOST + 1])
        if len(few) <= SELECT_MOST:
            self.widget = forms.Select(attrs=self.widget.attrs, choices=[
                ("", self.empty_label), *self.extra,
                *((thulium_id, f"{name} ({thulium_id})") for thulium_id, name in few)])
        else:
            self.widget = forms.TextInput(attrs={**self.widget.attrs, "autocomplete": "off",
                                                 "spellcheck": "false"})
            self.help_text = self.typed_help

    def prepare_value(self, value):
        return getattr(value, "thulium_id", value)

    def to_python(self, value):
        value = str(value or "").strip()
        if not value:
            return None
        for choice, label in self.extra:
            if value in (choice, str(label)):
                return choice
        # A NUL no campaign holds, and PostgreSQL refuses to compare: no campaign's, unasked.
        found = "\x00" not in value and (list(self.campaigns.filter(thulium_id=value)) or list(
            self.campaigns.filter(name=value)[:2]))
        if not found:
            raise forms.ValidationError(
                _("No campaign has the Thulium id or the name “%(value)s”."),
                code="unknown", params={"value": value})
        if len(found) > 1:
            raise forms.ValidationError(
                _("Several campaigns are named “%(value)s”: type the Thulium id of the one "
                  "you mean."), code="several", params={"value": value})
        return found[0]
