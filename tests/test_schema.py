"""No index the schema carries is covered by another: each is written with every row."""

import pytest
from django.apps import apps
from django.db import connection

PROJECT_APPS = {"audit", "campaigns", "records", "imports", "donotcall", "notices", "roles",
                "twofactor", "sso"}


@pytest.mark.django_db
def test_no_plain_index_is_the_leading_part_of_another():
    covered = []
    with connection.cursor() as cursor:
        for model in apps.get_models():
            if model._meta.app_label not in PROJECT_APPS:
                continue
            table = model._meta.db_table
            found = connection.introspection.get_constraints(cursor, table)
            indexed = {name: found[name]["columns"] for name in found
                       if found[name]["index"] or found[name]["unique"]}
            covered += [
                (table, columns, other)
                for name, columns in indexed.items() if not found[name]["unique"]
                for other_name, other in indexed.items()
                if other_name != name and len(other) > len(columns)
                and other[:len(columns)] == columns
            ]
    assert covered == []
