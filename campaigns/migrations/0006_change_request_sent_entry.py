"""A change request points at the audit entry of its sent change (filled by audit 0006)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0005_entry"),
        ("campaigns", "0005_change_request_events"),
    ]

    operations = [
        # Named sent_change once the old CampaignChange, whose link takes that name, is gone.
        migrations.AddField(
            model_name="changerequest",
            name="sent_entry",
            field=models.OneToOneField(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="audit.entry", verbose_name="sent change"),
        ),
    ]
