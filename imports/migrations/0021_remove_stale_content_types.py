"""ImportReceipt's content type and its permissions, left behind by 0003_remove_importreceipt
in a database migrated while the model was: the group and user pages offered them to grant."""

from django.db import migrations

from portal.stale_content_types import RemoveStaleContentTypes


class Migration(migrations.Migration):

    dependencies = [
        ("imports", "0020_model_names"),
        # The admin's history names content types; the roles' data migrations made the
        # permissions of every model they knew (after auth's and contenttypes').
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("roles", "0002_groups_of_the_one_log"),
    ]

    operations = [RemoveStaleContentTypes(models=["importreceipt"])]
