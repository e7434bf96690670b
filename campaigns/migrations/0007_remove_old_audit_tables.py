"""The old per-kind audit tables are gone: their entries live in the one log (audit 0006)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0006_carry_over"),
        ("campaigns", "0006_change_request_sent_entry"),
    ]

    operations = [
        migrations.DeleteModel(name="CampaignChange"),
        migrations.DeleteModel(name="ChangeRequestEvent"),
        migrations.RenameField(model_name="changerequest", old_name="sent_entry",
                               new_name="sent_change"),
    ]
