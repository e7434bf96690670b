"""Imports point at audit entries: each send's, and the receipt's (filled by audit 0006)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0005_entry"),
        ("imports", "0001_initial"),
    ]

    operations = [
        # Named receipt once the old ImportReceipt, whose link takes that name, is gone.
        migrations.AddField(
            model_name="importjob",
            name="receipt_entry",
            field=models.OneToOneField(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="audit.entry", verbose_name="receipt"),
        ),
        migrations.AddField(
            model_name="importattempt",
            name="entry",
            field=models.OneToOneField(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="audit.entry"),
        ),
    ]
