"""The forms of an import: the upload, how to read the file, and the column mapping; and
the imports page's filters."""

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from portal.campaign_choice import CampaignField
from portal.kept_text import validate_no_phone_number
from portal.phones import spells_a_phone_number

from .mapping import PHONE
from .models import ImportJob
from .reading import (
    DELIMITERS,
    ENCODINGS,
    FileProblem,
    detect_layout,
    header_refused,
    sheet_refused,
)


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV or Excel file"),
        help_text=_("CSV (UTF-8, Windows-1250, ISO-8859-2 or UTF-16; separated by ; , tabs "
                    "or |) or .xlsx. The first row must name the columns."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.IMPORT_MAX_FILE_SIZE:
            raise forms.ValidationError(
                _("The file is %(size)s; the portal takes files of at most %(max)s.")
                % {"size": filesizeformat(upload.size),
                   "max": filesizeformat(settings.IMPORT_MAX_FILE_SIZE)},
                code="too_big",
            )
        # Its name is kept with the import (or the list's entries) and in the audit trail,
        # where an erasure of the number does not reach it.
        if spells_a_phone_number(upload.name):
            raise forms.ValidationError(
                _("The file's name holds a phone number (%(name)s), and it is kept in the "
                  "audit trail, where erasing the number would not reach it: rename the file "
                  "(e.g. after its date) and upload it again.") % {"name": upload.name},
                code="named",
            )
        content = upload.read()
        try:
            self.layout = detect_layout(content, upload.name)
        except FileProblem as problem:
            raise forms.ValidationError(problem.message, code="unreadable") from None
        self.content = content
        return upload


class ImportUploadForm(UploadForm):
    """An import's file, whose first row must name the columns (`header_refused`), and
    whose workbook's sheet read is not named by a phone number (`sheet_refused`)."""

    def clean_file(self):
        upload = super().clean_file()
        if refused := sheet_refused(self.layout.sheet):
            raise forms.ValidationError(refused, code="sheet_named")
        if refused := header_refused(self.layout.headers):
            raise forms.ValidationError(refused, code="no_header")
        return upload


class ReadOptionsForm(forms.Form):
    """How a CSV file is read, as detected; the user corrects it when the columns look wrong."""

    encoding = forms.ChoiceField(label=_("Encoding"), choices=list(ENCODINGS.items()),
                                 widget=forms.Select(attrs={"class": "form-select"}))
    delimiter = forms.ChoiceField(label=_("Separator"), choices=list(DELIMITERS.items()),
                                  widget=forms.Select(attrs={"class": "form-select"}))


class SheetForm(forms.Form):
    """Which of a workbook's sheets is read; reading it refuses a name the workbook has no
    sheet of."""

    sheet = forms.CharField(label=_("Sheet"),
                            error_messages={"required": _("Choose a sheet from the list.")},
                            widget=forms.Select(attrs={"class": "form-select"}))

    def __init__(self, *args, sheets: dict[str, bool] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sheet"].widget.choices = [
            (name, name if shown else _("%(sheet)s (hidden)") % {"sheet": name})
            for name, shown in (sheets or {}).items()]

    def clean_sheet(self):
        sheet = self.cleaned_data["sheet"]
        if refused := sheet_refused(sheet):
            raise forms.ValidationError(refused, code="sheet_named")
        return sheet

    def full_clean(self):
        super().full_clean()
        # The template renders the widget by hand: Bootstrap marks a field by this class.
        if "sheet" in self.errors:
            self.fields["sheet"].widget.attrs["class"] += " is-invalid"


class MappingForm(forms.Form):
    """One choice per column of the file: the record parameter or field it goes to."""

    template_name = forms.CharField(
        label=_("Save this mapping as a template named"), required=False, max_length=100,
        validators=[validate_no_phone_number],
        help_text=_("Optional. The next file of this campaign can use it."),
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )

    def __init__(self, *args, headers, targets, mapping, hidden=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.targets = dict(targets)
        choices = [("", _("— leave out —")), *targets]
        self.columns = []
        for index, header in enumerate(headers):
            name = f"column_{index}"
            label = header or _("column %(n)d") % {"n": index + 1}
            self.fields[name] = forms.ChoiceField(
                # A column Excel hides (`hidden`: their indices) is told apart.
                label=_("%(column)s (hidden)") % {"column": label} if index in hidden else label,
                choices=choices,
                required=False, initial=mapping[index] if index < len(mapping) else "",
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )
            self.columns.append(name)
        # The template name goes last, under the columns.
        self.order_fields([*self.columns, "template_name"])

    def clean(self):
        cleaned = super().clean()
        seen = {}
        for name in self.columns:
            target = cleaned.get(name)
            if not target:
                continue
            if target in seen:
                self.add_error(name, _("%(target)s is already chosen for the column %(column)s.")
                               % {"target": self.targets[target],
                                  "column": self.fields[seen[target]].label})
            seen.setdefault(target, name)
        if PHONE not in seen:
            raise forms.ValidationError(
                _("Choose the column that holds the phone number: Thulium needs one for "
                  "every record, and this file has none that the portal recognised."),
                code="no_phone",
            )
        return cleaned

    def full_clean(self):
        super().full_clean()
        # The template renders the widgets by hand: Bootstrap marks a field by this class.
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["class"] += " is-invalid"

    def mapping(self) -> list[str]:
        return [self.cleaned_data.get(name) or "" for name in self.columns]


class ImportListForm(forms.Form):
    """The filters of the imports page."""

    campaign = CampaignField(label=_("Campaign"), empty_label=_("any campaign"))
    state = forms.ChoiceField(label=_("State"), required=False,
                              choices=[("", _("any state")), *ImportJob.State.choices])
    mine = forms.BooleanField(label=_("Only mine"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].fit(Campaign.objects)

    def filter(self, jobs, user):
        """The imports (a queryset) that the filters keep; none if they are not valid."""
        if not self.is_valid():
            return jobs.none() if self.is_bound else jobs
        wanted = self.cleaned_data
        if wanted["campaign"]:
            jobs = jobs.filter(campaign_id=wanted["campaign"].pk)
        if wanted["state"]:
            jobs = jobs.filter(state=wanted["state"])
        if wanted["mine"]:
            jobs = jobs.filter(actor=user)
        return jobs
