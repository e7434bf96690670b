"""CampaignChange's and ChangeRequestEvent's content types and their permissions, left behind by
0007_remove_old_audit_tables: the group and user pages offered them to grant."""

from django.db import migrations

from portal.stale_content_types import RemoveStaleContentTypes


class Migration(migrations.Migration):

    dependencies = [
        ("campaigns", "0015_campaign_read_at"),
        # The admin's history names content types; the roles' data migrations made the
        # permissions of every model they knew (after auth's and contenttypes').
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("roles", "0002_groups_of_the_one_log"),
    ]

    operations = [RemoveStaleContentTypes(models=["campaignchange", "changerequestevent"])]
