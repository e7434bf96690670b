"""The PostgreSQL role the portal runs as: its rows' reader and writer, owner of nothing.

The tables' owner may turn the audit trail's triggers off, truncate a table or drop one:
run as the owner, the portal would hand those rights to whoever has its credentials. So
compose.yaml migrates as the owner, then runs this, and starts the web and worker
services as the role it prepares.
"""

import os

import environ
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

URL_VARIABLE = "PORTAL_DATABASE_URL"


class Command(BaseCommand):
    help = (f"Prepare the PostgreSQL role of {URL_VARIABLE} (the portal's own) as the tables' "
            "owner (DATABASE_URL): it may log in with that URL's password, read and write "
            "the rows of every table and use every sequence, and owns nothing. Run it after "
            "each migrate, which may add tables.")

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Only PostgreSQL has roles: there is nothing to prepare.")
        url = os.environ.get(URL_VARIABLE, "")
        if not url:
            raise CommandError(f"{URL_VARIABLE} is not set: set it to the URL the portal "
                               "connects with (compose.yaml does).")
        given = environ.Env.db_url_config(url)
        role, password = given.get("USER") or "", given.get("PASSWORD") or ""
        if not (given.get("ENGINE") or "").endswith("postgresql") or not role or not password:
            raise CommandError(f"{URL_VARIABLE} is not a PostgreSQL URL with a user and a "
                               "password (postgres://user:password@host/name).")
        if role == connection.settings_dict["USER"]:
            raise CommandError(f"{URL_VARIABLE} names the tables' owner ({role}): the portal's "
                               "own role must be another.")
        try:
            _prepare(role, password)
        except DatabaseError as error:
            raise CommandError(f"The role {role} could not be prepared: {error}") from error
        self.stdout.write(f"The portal's role {role} may read and write every table's rows, "
                          "and owns none.")


def _prepare(role: str, password: str) -> None:
    """Create or update the role, refuse one that owns tables or may bypass their rules, and
    grant it the rows' rights on the current schema."""
    name = connection.ops.quote_name(role)
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = %s",
                       [role])
        found = cursor.fetchone()
        if found and found[0]:
            raise CommandError(f"The role {role} is a superuser, or bypasses row security: "
                               "the portal's own role must be neither.")
        cursor.execute("SELECT string_agg(tablename, ', ') FROM pg_tables "
                       "WHERE tableowner = %s AND schemaname = current_schema()", [role])
        owned = cursor.fetchone()[0]
        if owned:
            raise CommandError(f"The role {role} owns tables ({owned}): give them to the owner "
                               f"of the others first (ALTER TABLE ... OWNER TO).")
        verb = "ALTER" if found else "CREATE"
        # Django's cursors bind values on the client, so the password may be a parameter.
        cursor.execute(f"{verb} ROLE {name} LOGIN NOCREATEDB NOCREATEROLE PASSWORD %s",
                       [password])
        cursor.execute("SELECT current_schema()")
        schema = connection.ops.quote_name(cursor.fetchone()[0])
        database = connection.ops.quote_name(connection.settings_dict["NAME"])
        cursor.execute(f"GRANT CONNECT ON DATABASE {database} TO {name}")
        cursor.execute(f"GRANT USAGE ON SCHEMA {schema} TO {name}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} "
                       f"TO {name}")
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {name}")
