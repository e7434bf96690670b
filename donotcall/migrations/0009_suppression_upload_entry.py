"""An uploaded entry points at its upload's audit entry: one entry per upload, found by
each of its numbers, where an entry per number held a large upload's request for minutes.
Entries uploaded before keep their own audit entries and point at none."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0017_chain_head_keeps_entry_keys'),
        ('donotcall', '0008_suppression_expiry'),
    ]

    operations = [
        migrations.AddField(
            model_name='suppression',
            name='upload_entry',
            field=models.ForeignKey(blank=True, null=True,
                                    on_delete=django.db.models.deletion.PROTECT,
                                    related_name='+', to='audit.entry', db_index=False,
                                    verbose_name='uploaded at'),
        ),
    ]
