"""The chain's head keeps the ids of the personal-data keys entries were made under, so
that an erasure can tell, without reading the log, whether one is missing: those of the
entries written so far are read once, here."""

from django.db import migrations, models


def keys_of_entries_so_far(apps, schema_editor):
    ChainHead, Entry = apps.get_model("audit", "ChainHead"), apps.get_model("audit", "Entry")
    keys = sorted(Entry.objects.exclude(pii_key="").order_by().values_list(
        "pii_key", flat=True).distinct())
    ChainHead.objects.filter(pk=1).update(pii_keys=keys)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0016_sealed_checks'),
    ]

    operations = [
        migrations.AddField(
            model_name='chainhead',
            name='pii_keys',
            field=models.JSONField(default=list),
        ),
        migrations.RunPython(keys_of_entries_so_far, migrations.RunPython.noop),
    ]
