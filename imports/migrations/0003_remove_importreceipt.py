"""Receipts and sends are audit entries of the one log (audit 0006); the old table is gone."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0006_carry_over"),
        ("imports", "0002_entries"),
    ]

    operations = [
        migrations.DeleteModel(name="ImportReceipt"),
        migrations.RemoveField(model_name="importattempt", name="addition"),
        migrations.AlterField(
            model_name="importattempt",
            name="entry",
            field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="audit.entry"),
        ),
        migrations.RenameField(model_name="importjob", old_name="receipt_entry",
                               new_name="receipt"),
    ]
