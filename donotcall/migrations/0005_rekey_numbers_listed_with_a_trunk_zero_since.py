"""Numbers typed or uploaded with a trunk 0 after their country code ("+48 0601 234 567")
were still listed under a key with it ("480601234567") until the list was held to the
record form's rules: they are keyed anew as 0003 keyed the older ones."""

from importlib import import_module

from django.db import migrations

rekey = import_module("donotcall.migrations.0003_rekey_numbers_written_with_a_trunk_zero").rekey


class Migration(migrations.Migration):
    dependencies = [("donotcall", "0004_suppression_when")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
