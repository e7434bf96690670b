"""The PostgreSQL role the portal runs as: its rows' reader and writer, owner of nothing.

The tables' owner may turn the audit trail's triggers off, truncate a table or drop one:
run as the owner, the portal would hand those rights to whoever has its credentials. So
compose.yaml migrates as the owner, then runs this, and starts the web and worker
services as the role it prepares.
"""

import os

import environ
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection, transaction

URL_VARIABLE = "PORTAL_DATABASE_URL"


class Command(BaseCommand):
    help = (f"Prepare the PostgreSQL role of {URL_VARIABLE} (the portal's own) as the tables' "
            "owner (DATABASE_URL): it may log in with that URL's password, read and write "
            "the rows of every table and use every sequence, and nothing more (what it was "
            "given before is taken back; a role that owns anything here, belongs to another "
            "role or is a superuser is refused). Run it after each migrate, which may add "
            "tables.")

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
    """Create or update the role, refuse one that could reach past the rows (see
    _refuse_reach), take back whatever it was given before, and grant it the rows' rights
    on the current schema.

    In one transaction: compose runs this at every `up -d` while the web and worker
    containers serve as the role, and each REVOKE committed on its own left their queries
    "permission denied" until the GRANTs came."""
    name = connection.ops.quote_name(role)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT oid, rolsuper OR rolbypassrls OR rolreplication FROM pg_roles "
                       "WHERE rolname = %s", [role])
        found = cursor.fetchone()
        if found:
            _refuse_reach(cursor, role, *found)
        verb = "ALTER" if found else "CREATE"
        # Django's cursors bind values on the client, so the password may be a parameter.
        cursor.execute(f"{verb} ROLE {name} LOGIN NOCREATEDB NOCREATEROLE CONNECTION LIMIT -1 "
                       "VALID UNTIL 'infinity' PASSWORD %s", [_scram_verifier(role, password)])
        cursor.execute("SELECT current_schema()")
        schema = connection.ops.quote_name(cursor.fetchone()[0])
        database = connection.ops.quote_name(connection.settings_dict["NAME"])
        # What it was given before goes first: GRANT ALL, a database administrator's habit,
        # holds TRUNCATE, which empties the audit trail past its triggers.
        for things in ("ALL TABLES IN SCHEMA", "ALL SEQUENCES IN SCHEMA",
                       "ALL FUNCTIONS IN SCHEMA", "SCHEMA"):
            cursor.execute(f"REVOKE ALL ON {things} {schema} FROM {name}")
        cursor.execute(f"REVOKE ALL ON DATABASE {database} FROM {name}")
        cursor.execute(f"GRANT CONNECT ON DATABASE {database} TO {name}")
        cursor.execute(f"GRANT USAGE ON SCHEMA {schema} TO {name}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} "
                       f"TO {name}")
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {name}")


def _scram_verifier(role: str, password: str) -> str:
    """The password as PostgreSQL keeps it, SCRAM-SHA-256 with a random salt, computed here
    by libpq: the statement then never holds the password itself, which the server writes
    to its log when the statement fails, and with log_statement=ddl always."""
    pgconn = connection.connection.pgconn
    return pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()


def _refuse_reach(cursor, role: str, oid: int, privileged: bool) -> None:
    """Raise CommandError for a role whose rights reach past the rows, in ways a REVOKE does
    not take back: a superuser's (or one that bypasses row security, or replicates); an
    owner's, of the database or anything in it (the audit trail's trigger functions
    dropped, its triggers go); a member's of other roles; default privileges."""
    if privileged:
        raise CommandError(f"The role {role} is a superuser, bypasses row security or "
                           "replicates: the portal's own role must be none of these.")
    cursor.execute(
        "SELECT count(*) FROM pg_shdepend, pg_database AS here "
        "WHERE here.datname = current_database() AND refobjid = %s AND deptype = 'o' "
        "AND (dbid = here.oid OR (classid = 'pg_database'::regclass AND objid = here.oid))",
        [oid])
    if owned := cursor.fetchone()[0]:
        raise CommandError(f"The role {role} owns {owned} things of this database (tables, "
                           "functions, schemas, or the database itself): give them to the "
                           f"tables' owner first (REASSIGN OWNED BY {role} TO <owner>).")
    cursor.execute("SELECT string_agg(rolname, ', ') FROM pg_auth_members "
                   "JOIN pg_roles ON pg_roles.oid = roleid WHERE member = %s", [oid])
    if groups := cursor.fetchone()[0]:
        raise CommandError(f"The role {role} is a member of {groups}, whose rights it has: "
                           f"take it out first (REVOKE {groups} FROM {role}).")
    cursor.execute("SELECT count(*) FROM pg_default_acl, aclexplode(defaclacl) AS given "
                   "WHERE given.grantee = %s", [oid])
    if cursor.fetchone()[0]:
        raise CommandError(f"The role {role} is given default privileges on what others "
                           "create: take them back first (ALTER DEFAULT PRIVILEGES ... "
                           f"REVOKE ... FROM {role}).")
