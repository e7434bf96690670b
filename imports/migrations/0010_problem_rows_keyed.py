"""Problem rows kept before their number's key was stored get it now: an erasure finds an
import's rows by it (imports.erasure), and missed theirs."""

from django.core.exceptions import ValidationError
from django.db import migrations

from portal.phones import number_key

PROBLEMS = ("invalid", "duplicate", "known")
BATCH = 2000


def key_problem_rows(apps, schema_editor):
    ImportRow = apps.get_model("imports", "ImportRow")
    rows = (ImportRow.objects.filter(state__in=PROBLEMS, phone_key="")
            .exclude(phone_number__in=("", "[erased]")).only("pk", "phone_number"))
    keyed = []
    for row in rows.iterator(chunk_size=BATCH):
        try:
            row.phone_key = number_key(row.phone_number)
        except ValidationError:
            continue
        keyed.append(row)
        if len(keyed) == BATCH:
            ImportRow.objects.bulk_update(keyed, ["phone_key"])
            keyed = []
    ImportRow.objects.bulk_update(keyed, ["phone_key"])


class Migration(migrations.Migration):

    dependencies = [("imports", "0009_importjob_rows_cleared_at")]

    operations = [migrations.RunPython(key_problem_rows, migrations.RunPython.noop)]
