"""The flush after a transactional test keeps the rows every test starts with, if unchanged.

Django ends a transactional test with a flush of every table and then emits post_migrate,
which makes the content types and permissions again (some hundred statements), and the
`data_migration_rows` fixture runs the data migrations again for the role groups: most of a
second a test, to write rows equal to those the flush deleted. So when the tables those write
(KEPT) hold the very rows the test started with, the flush leaves them be, empties the
others, and skips post_migrate, as Django's own TransactionTestCase does after a
serialized_rollback; the data migrations are not run again either. A test that changed any
of those rows (a permission given to a group, a content type made or renamed) gets
Django's whole flush, post_migrate and the data migrations, as every test did before.
A test with available_apps or serialized_rollback gets Django's flush as ever. (None here
resets sequences: one that did would restart those of the kept tables too.)

pytest-django makes its TransactionTestCase subclass itself, so conftest puts this flush in
place of TransactionTestCase's for the session. A flush of the database backend's could keep
the tables but not skip post_migrate; serialized_rollback would skip it, and then load the
first snapshot of every table back, an INSERT a row.
"""

from django.core.management.color import no_style
from django.db import connections
from django.test import TestCase, TransactionTestCase

# What post_migrate (contenttypes, auth) and the data migrations write: no other table.
KEPT = ("django_content_type", "auth_permission", "auth_group", "auth_group_permissions")

_django_fixture_teardown = TransactionTestCase._fixture_teardown
# Per database, the rows of KEPT as the data migrations left them for the tests since.
_started_with: dict[str, list[list[tuple]]] = {}


def rows_kept(alias: str) -> bool:
    """Whether the last flush kept the rows the data migrations wrote, as they wrote them."""
    return alias in _started_with


def remember_rows(alias: str) -> None:
    """Note the rows of KEPT, once the data migrations have written them."""
    _started_with[alias] = _rows(connections[alias])


def fixture_teardown(self) -> None:
    """TransactionTestCase's flush, keeping the tables of KEPT when the test left them as
    it found them."""
    aliases = self._databases_names(include_mirrors=False)
    if (isinstance(self, TestCase) or self.available_apps is not None
            or self.serialized_rollback
            or any(_started_with.get(alias) != _rows(connections[alias]) for alias in aliases)):
        for alias in aliases:
            _started_with.pop(alias, None)
        return _django_fixture_teardown(self)
    for alias in aliases:
        connection = connections[alias]
        # As the flush command lists them.
        tables = connection.introspection.django_table_names(only_existing=True,
                                                             include_views=False)
        connection.ops.execute_sql_flush(connection.ops.sql_flush(
            no_style(), [table for table in tables if table not in KEPT]))


def _rows(connection) -> list[list[tuple]]:
    with connection.cursor() as cursor:
        return [cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)} ORDER BY 1")
                .fetchall() for table in KEPT]
