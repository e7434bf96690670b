"""Entries typed with the trunk 0 Poland no longer dials ("0601 234 567") were keyed with it
("480601234567"), apart from the number's own key ("48601234567"). The portal now reads
such numbers without the 0 (portal.phones), so they are keyed anew here: kept as they
were, they would block none of the numbers checked against them. An entry whose number
was erased keeps its digest (only that is left of it); one whose number is on the list
already for the same campaigns stays as it was beside it."""

from django.db import migrations


def rekey(apps, schema_editor):
    from audit.personal import digest
    from portal.phones import key_without_trunk_zero

    suppression = apps.get_model("donotcall", "Suppression")
    for entry in suppression.objects.exclude(phone_key="").order_by("pk"):
        key = key_without_trunk_zero(entry.phone_key)
        if key == entry.phone_key:
            continue
        new_digest = digest(key)
        if suppression.objects.filter(digest=new_digest, campaign=entry.campaign).exists():
            continue
        suppression.objects.filter(pk=entry.pk).update(phone_key=key, digest=new_digest)


class Migration(migrations.Migration):
    dependencies = [("donotcall", "0002_compliance_officers")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
