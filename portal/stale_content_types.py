"""The content types of an app's models deleted since, removed by a migration of the app.

DeleteModel leaves a model's content type and its four permissions behind: the group and
user pages' choosers still offered "campaignchange | Can add campaign change", in English,
for an administrator to grant, meaning nothing. Django's remove_stale_contenttypes command
removes those of every app, the libraries' too, once someone thinks of running it; this
operation removes only the named models of the migration's own app, judged stale as the
command judges them: the app no longer has the model. Deleting a content type deletes its
permissions and every group's and user's grant of them, and leaves the admin's history rows
that named it without one (LogEntry's SET_NULL). Unapplied, it does nothing: a permission
of no model is not worth making again.
"""

from django.db import router
from django.db.migrations.operations.base import Operation


class RemoveStaleContentTypes(Operation):
    """Delete the content types of `models` (lower-case model names) of the migration's app,
    those the app no longer has at this migration."""

    reversible = True
    reduces_to_sql = False

    def __init__(self, *, models: list[str]):
        self.models = list(models)

    def deconstruct(self):
        return self.__class__.__qualname__, [], {"models": self.models}

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        database = schema_editor.connection.alias
        if not router.allow_migrate(database, app_label):
            return
        stale = [model for model in self.models if (app_label, model) not in to_state.models]
        content_types = to_state.apps.get_model("contenttypes", "ContentType")
        content_types.objects.using(database).filter(app_label=app_label,
                                                     model__in=stale).delete()

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass

    def describe(self):
        return f"Remove the content types and permissions of {', '.join(self.models)}"

    @property
    def migration_name_fragment(self):
        return "remove_stale_content_types"
