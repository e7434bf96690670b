"""Records added with a number typed with the trunk 0 Poland no longer dials ("0601 234
567") were keyed with it ("480601234567"): the same number typed without it, as the portal
now reads both (portal.phones), was not seen as added. They are keyed anew, unless the
number is known to the campaign already under its new key."""

from django.db import migrations


def rekey(apps, schema_editor):
    from portal.phones import key_without_trunk_zero

    added_record = apps.get_model("records", "AddedRecord")
    for record in added_record.objects.filter(phone_key__regex=r"^[0-9]{1,3}0").order_by("pk"):
        key = key_without_trunk_zero(record.phone_key)
        if key == record.phone_key or added_record.objects.filter(
                campaign_id=record.campaign_id, phone_key=key).exists():
            continue
        added_record.objects.filter(pk=record.pk).update(phone_key=key)


class Migration(migrations.Migration):
    dependencies = [("records", "0009_entry_reference_unchecked")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
