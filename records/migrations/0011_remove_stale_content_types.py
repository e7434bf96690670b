"""RecordAddition's content type and its permissions, left behind by
0006_remove_recordaddition: the group and user pages offered them to grant."""

from django.db import migrations

from portal.stale_content_types import RemoveStaleContentTypes


class Migration(migrations.Migration):

    dependencies = [
        ("records", "0010_rekey_numbers_written_with_a_trunk_zero"),
        # The admin's history names content types; the roles' data migrations made the
        # permissions of every model they knew (after auth's and contenttypes').
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("roles", "0002_groups_of_the_one_log"),
    ]

    operations = [RemoveStaleContentTypes(models=["recordaddition"])]
