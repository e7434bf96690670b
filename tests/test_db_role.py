"""On PostgreSQL the portal runs as a role that owns no table (manage.py portal_db_role):
its work needs only the rows' rights, and the owner's, which could turn the audit trail's
guards off, stay out of reach of whoever has the portal's credentials."""

import base64
import hashlib
import hmac
import threading
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.erasure import forget_number
from audit.models import Entry
from audit.verify import verify_chain
from imports.pushing import import_push
from imports.services import import_confirm
from records.services import record_add
from tests.conftest import records_sent, skip_unless_postgresql
from tests.db_threads import closing, connected_pid, until_waiting_for_a_lock_or_done
from tests.import_files import csv_bytes, previewed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def portal_role(monkeypatch):
    skip_unless_postgresql(connection)
    # One per test database: test runs side by side share the server's roles.
    role = f"{connection.settings_dict['NAME']}_portal"
    monkeypatch.setenv("PORTAL_DATABASE_URL", f"postgres://{role}:its-password@db/portal")
    call_command("portal_db_role")
    yield role
    with connection.cursor() as cursor:
        cursor.execute(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER')
        cursor.execute(f'DROP OWNED BY "{role}"')
        cursor.execute(f'DROP ROLE "{role}"')


@contextmanager
def connected_as(role: str):
    """The portal, and the threads it starts, connected as `role` (they share the alias's
    settings)."""
    connection.close()
    owner, connection.settings_dict["USER"] = connection.settings_dict["USER"], role
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["USER"] = owner


def test_the_portal_s_work_needs_no_more_than_its_role_is_given(portal_role, logged_in, user,
                                                                campaigns, thulium):
    with connected_as(portal_role):
        record_add(campaign=campaigns["00001"], actor=user, payload={"phone_number": "601234567"})
        job = previewed(logged_in, campaigns["00002"],
                        csv_bytes([["602000001", "Jan", "Nowak", "Kraków"],
                                   ["602000002", "Ewa", "Lis", "Łódź"]]))
        assert import_confirm(job=job)
        import_push(job.pk)
        forget_number(number="601234567", reference="RODO/2026/1")
        assert logged_in.get(reverse("audit:timeline")).status_code == 200
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone() == (portal_role,)
        assert verify_chain().problem == ""

    assert [sent["phone_number"] for sent in records_sent(thulium)] == [
        "601234567", "602000001", "602000002"]
    assert Entry.objects.filter(kind="erasure").exists()


@pytest.mark.parametrize("sql, refusal", [
    ('ALTER TABLE "audit_entry" DISABLE TRIGGER USER', "must be owner"),
    ('DROP TRIGGER "audit_append_only" ON "audit_entry"', "must be owner"),
    ('TRUNCATE "audit_entry"', "permission denied"),
    ('ALTER TABLE "audit_chainhead" DISABLE TRIGGER USER', "must be owner"),
    ('CREATE TABLE "audit_entry_copy" (id int)', "permission denied"),
    ('DELETE FROM "audit_entry"', "append-only"),
    ('UPDATE "audit_chainhead" SET seq = 0', "only moves forward"),
], ids=["triggers off", "trigger dropped", "truncated", "head's trigger off", "new table",
        "deleted", "head moved back"])
def test_the_portal_s_role_cannot_get_past_the_audit_trail_s_guards(portal_role, user,
                                                                    campaigns, sql, refusal):
    record_add(campaign=campaigns["00001"], actor=user, payload={"phone_number": "601234567"})
    with connected_as(portal_role):
        with (pytest.raises(DatabaseError, match=refusal), transaction.atomic(),
              connection.cursor() as cursor):
            cursor.execute(sql)
    assert Entry.objects.count() == 1


@pytest.mark.parametrize("url, words", [
    ("", "PORTAL_DATABASE_URL is not set"),
    ("sqlite:///portal.sqlite3", "is not a PostgreSQL URL with a user and a password"),
    ("postgres://db/portal", "is not a PostgreSQL URL with a user and a password"),
    ("postgres://{owner}:x@db/portal", "names the tables' owner"),
], ids=["unset", "not PostgreSQL", "no user", "the owner"])
def test_the_command_prepares_no_role_from_a_url_that_names_none_or_the_owner(
        monkeypatch, url, words):
    skip_unless_postgresql(connection)
    monkeypatch.setenv("PORTAL_DATABASE_URL",
                       url.format(owner=connection.settings_dict["USER"]))
    with pytest.raises(CommandError, match=words):
        call_command("portal_db_role")


def test_the_role_s_password_is_sent_and_kept_only_as_a_scram_verifier(monkeypatch):
    """The statement held the password itself: PostgreSQL logs a failing statement, and
    every CREATE or ALTER ROLE with log_statement=ddl."""
    skip_unless_postgresql(connection)
    role = f"{connection.settings_dict['NAME']}_portal"
    monkeypatch.setenv("PORTAL_DATABASE_URL", f"postgres://{role}:its-pass%2Fword@db/portal")
    try:
        with CaptureQueriesContext(connection) as sent:
            call_command("portal_db_role")  # CREATE ROLE
            call_command("portal_db_role")  # ALTER ROLE
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [role])
            kept = cursor.fetchone()[0]
    finally:
        for sql in ("REASSIGN OWNED BY {role} TO CURRENT_USER", "DROP OWNED BY {role}",
                    "DROP ROLE {role}"):
            as_owner(sql.format(role=f'"{role}"'))
    statements = [query["sql"] for query in sent.captured_queries if " ROLE " in query["sql"]]
    assert [sql.split()[0] for sql in statements] == ["CREATE", "ALTER"]
    assert not any("its-pass" in sql for sql in statements)
    assert kept in statements[-1]
    assert scram_verifies(kept, "its-pass/word")
    assert not scram_verifies(kept, "its-pass/wore")


def scram_verifies(verifier: str, password: str) -> bool:
    """Whether a SCRAM-SHA-256 verifier is of `password` (RFC 5802 and 7677, as PostgreSQL
    checks a login against it; the test server trusts every login)."""
    method, rest = verifier.split("$", 1)
    counts, keys = rest.split("$")
    iterations, salt = counts.split(":")
    stored_key, server_key = (base64.b64decode(key) for key in keys.split(":"))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt),
                                 int(iterations))
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    return (method == "SCRAM-SHA-256" and int(iterations) >= 4096
            and hashlib.sha256(client_key).digest() == stored_key
            and hmac.digest(salted, b"Server Key", "sha256") == server_key)


def as_owner(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


@pytest.mark.parametrize("given, refusal", [
    ('ALTER FUNCTION audit_log_append_only() OWNER TO "{role}"', "owns 1 things of this"),
    ('ALTER DATABASE "{database}" OWNER TO "{role}"', "owns 1 things of this"),
    ('GRANT "{owner}" TO "{role}"', "is a member of"),
    ('ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO "{role}"', "default privileges"),
    ('ALTER ROLE "{role}" BYPASSRLS', "bypasses row security"),
], ids=["a trigger function's owner", "the database's owner", "the owner's member",
        "default privileges", "bypasses row security"])
def test_a_role_that_reaches_past_the_rows_is_refused(portal_role, given, refusal):
    """Owning the trigger functions, a role dropped them and the triggers with them; owning
    the database (its schema), it dropped tables; a member of the owner, it was the owner."""
    as_owner(given.format(role=portal_role, owner=connection.settings_dict["USER"],
                          database=connection.settings_dict["NAME"]))
    try:
        with pytest.raises(CommandError, match=refusal):
            call_command("portal_db_role")
    finally:
        as_owner(f'ALTER DEFAULT PRIVILEGES REVOKE ALL ON TABLES FROM "{portal_role}"')


def test_rights_given_to_the_role_before_are_taken_back(portal_role):
    """GRANT ALL, a database administrator's habit, holds TRUNCATE: it emptied the audit
    trail past its triggers."""
    as_owner(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{portal_role}"')
    call_command("portal_db_role")
    with connected_as(portal_role):
        with (pytest.raises(DatabaseError, match="permission denied"), transaction.atomic(),
              connection.cursor() as cursor):
            cursor.execute('TRUNCATE "audit_entry", "audit_chainhead", "audit_searchterm"')


def test_the_portal_s_role_keeps_its_rights_while_the_command_prepares_it_again(portal_role):
    """compose runs the command at every `docker compose up -d`, while the web and worker
    containers serve as the role: each REVOKE was committed on its own, and their queries
    met "permission denied" until the GRANTs came. Here the command is held half-way (its
    REVOKE on the sequences waits for another transaction's GRANT on them) while the role
    reads a table."""
    params = connection.get_connection_params()
    holder = connection.get_new_connection(params)
    holder.execute(f'GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO "{portal_role}"')
    pid, failures = [], []

    def prepare_again():
        pid.append(connected_pid())
        call_command("portal_db_role")

    command = threading.Thread(target=closing(prepare_again, failures))
    command.start()
    try:
        until_waiting_for_a_lock_or_done(command, pid)
        assert command.is_alive()
        with connection.get_new_connection({**params, "user": portal_role}) as reader:
            assert reader.execute('SELECT count(*) FROM "audit_entry"').fetchone() == (0,)
    finally:
        holder.rollback()
        holder.close()
        command.join()
    assert not failures
