"""A campaign's entries in the list's order, from an index: its page walked the whole list
by time to find a campaign's few. The campaign's own index is covered by it, and dropped
once it is made."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0011_scheduled_change_reverts'),
        ('donotcall', '0006_removals_of_erased_numbers_found_by_the_number'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='suppression',
            index=models.Index(fields=['campaign', 'created_at', 'id'],
                               name='suppression_campaign_when'),
        ),
        migrations.AlterField(
            model_name='suppression',
            name='campaign',
            field=models.ForeignKey(blank=True, db_index=False, null=True,
                                    on_delete=django.db.models.deletion.PROTECT,
                                    related_name='+', to='campaigns.campaign',
                                    verbose_name='campaign'),
        ),
    ]
