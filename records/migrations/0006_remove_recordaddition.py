"""The old per-kind audit table is gone: its entries live in the one log (audit 0006)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0006_carry_over"),
        ("imports", "0003_remove_importreceipt"),
        ("records", "0005_addedrecord"),
    ]

    operations = [
        migrations.DeleteModel(name="RecordAddition"),
    ]
