"""Removals of entries whose number was erased name no number, and were written without a
search term: given their entry's digest as one now (donotcall.entries' search place), so
the audit trail's search for the number finds them."""

from django.db import migrations

# Rows read and written at a time.
BATCH = 2000


def add_terms(apps, schema_editor):
    entry, search_term = apps.get_model("audit", "Entry"), apps.get_model("audit", "SearchTerm")
    removals = (entry.objects.filter(kind="donotcall-removal", sent__phone_number="")
                .order_by("pk").values_list("pk", "details__digest").iterator(chunk_size=BATCH))
    terms = [search_term(entry_id=pk, term=digest) for pk, digest in removals if digest]
    search_term.objects.bulk_create(terms, batch_size=BATCH, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("donotcall", "0005_rekey_numbers_listed_with_a_trunk_zero_since"),
                    ("audit", "0016_sealed_checks")]

    operations = [migrations.RunPython(add_terms, migrations.RunPython.noop)]
