"""A system check that no kind of audit entry is left out of the timeline."""

from django.core import checks

from .chain import chained_models
from .kinds import all_kinds


@checks.register()
def every_audit_model_has_a_kind(app_configs, **kwargs):
    registered = {kind.model_label for kind in all_kinds()}
    return [
        checks.Warning(
            f"{model._meta.label} is an audit entry but not in the audit timeline.",
            hint="Register an audit.kinds.EntryKind for it in its AppConfig.ready().",
            obj=model, id="audit.W001",
        )
        for model in chained_models() if model._meta.label not in registered
    ]
