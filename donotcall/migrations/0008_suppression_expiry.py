"""The entries expired long ago, found by their end: the worker deletes them
DONOTCALL_KEEP_DAYS after it (donotcall.services.suppressions_clear_expired), and without
the index read the whole list each hour to find them. Entries for good are left out."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('donotcall', '0007_suppression_campaign_when'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='suppression',
            index=models.Index(condition=models.Q(('expires_on__isnull', False)),
                               fields=['expires_on', 'id'], name='suppression_expiry'),
        ),
    ]
