"""Database triggers that keep audit_auditlog append-only even against raw SQL.

UPDATE of any row is always refused (an UPDATE that matches no row is harmless, as Django's
raw saves expect). DELETE is refused unless every deleted row is older than the largest
cutoff recorded by a prune anchor (a row with action 'audit.prune' and details.cutoff), so even
raw SQL can neither delete recent rows nor the anchor that allowed the prune. An anchor can only
be inserted with a cutoff no later than its own time, and not dated in the future.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.recorder import MigrationRecorder

TABLE = "audit_auditlog"
INSTALLED_BY = ("audit", "0002_append_only")
UPDATE_REFUSED = "audit log rows cannot be changed: the audit log is append-only."
DELETE_REFUSED = (
    "audit log rows cannot be deleted: the audit log is append-only; only rows older than the cutoff of "
    "the last prune can be removed, with `python manage.py audit prune --before DATE`."
)
TRUNCATE_REFUSED = "the audit log cannot be truncated: it is append-only."
ANCHOR_REFUSED = (
    "a prune anchor needs a details.cutoff that is not after its own created_at, and may not be dated in the future."
)

SQLITE_INSTALL = [
    f"""
    CREATE TRIGGER audit_auditlog_no_update BEFORE UPDATE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, '{UPDATE_REFUSED}'); END
    """,
    # Django stores datetimes on SQLite as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC; datetime() turns the
    # anchor's ISO cutoff (whole seconds) into that same shape, so text comparison orders correctly.
    f"""
    CREATE TRIGGER audit_auditlog_guard_delete BEFORE DELETE ON {TABLE}
    WHEN NOT coalesce(OLD.created_at < (
        SELECT max(datetime(json_extract(details, '$.cutoff'))) FROM {TABLE} WHERE action = 'audit.prune'
    ), 0)
    BEGIN SELECT RAISE(ABORT, '{DELETE_REFUSED}'); END
    """,
    f"""
    CREATE TRIGGER audit_auditlog_check_anchor BEFORE INSERT ON {TABLE}
    WHEN NEW.action = 'audit.prune' AND NOT coalesce(
        datetime(json_extract(NEW.details, '$.cutoff')) <= NEW.created_at
        AND NEW.created_at <= strftime('%Y-%m-%d %H:%M:%f', 'now', '+5 minutes'), 0)
    BEGIN SELECT RAISE(ABORT, '{ANCHOR_REFUSED}'); END
    """,
]
SQLITE_TRIGGERS = ("audit_auditlog_no_update", "audit_auditlog_guard_delete", "audit_auditlog_check_anchor")

POSTGRESQL_INSTALL = [
    """
    CREATE OR REPLACE FUNCTION audit_auditlog_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
    END $$
    """,
    # Statement-level with a transition table: one check per DELETE, however many rows it removes.
    f"""
    CREATE OR REPLACE FUNCTION audit_auditlog_guard_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        cutoff timestamptz;
        refused bigint;
    BEGIN
        SELECT max((details ->> 'cutoff')::timestamptz) INTO cutoff FROM {TABLE} WHERE action = 'audit.prune';
        SELECT min(id) INTO refused FROM old_rows WHERE cutoff IS NULL OR NOT (created_at < cutoff);
        IF refused IS NOT NULL THEN
            RAISE EXCEPTION 'row %: %', refused, '{DELETE_REFUSED}' USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION audit_auditlog_check_anchor() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        cutoff timestamptz;
    BEGIN
        BEGIN
            cutoff := (NEW.details ->> 'cutoff')::timestamptz;
        EXCEPTION WHEN others THEN
            cutoff := NULL;
        END;
        IF cutoff IS NULL OR cutoff > NEW.created_at OR NEW.created_at > now() + interval '5 minutes' THEN
            RAISE EXCEPTION '{ANCHOR_REFUSED}' USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    f"""
    CREATE TRIGGER audit_auditlog_no_update BEFORE UPDATE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION audit_auditlog_refuse('{UPDATE_REFUSED}')
    """,
    f"""
    CREATE TRIGGER audit_auditlog_no_truncate BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_auditlog_refuse('{TRUNCATE_REFUSED}')
    """,
    f"""
    CREATE TRIGGER audit_auditlog_guard_delete AFTER DELETE ON {TABLE}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_auditlog_guard_delete()
    """,
    f"""
    CREATE TRIGGER audit_auditlog_check_anchor BEFORE INSERT ON {TABLE}
    FOR EACH ROW WHEN (NEW.action = 'audit.prune') EXECUTE FUNCTION audit_auditlog_check_anchor()
    """,
]
POSTGRESQL_TRIGGERS = (
    "audit_auditlog_no_update",
    "audit_auditlog_no_truncate",
    "audit_auditlog_guard_delete",
    "audit_auditlog_check_anchor",
)
POSTGRESQL_FUNCTIONS = ("audit_auditlog_refuse", "audit_auditlog_guard_delete", "audit_auditlog_check_anchor")


def triggers_install(connection: BaseDatabaseWrapper) -> None:
    """Create (or re-create) the append-only triggers on this connection's database, in one transaction."""
    statements = {"sqlite": SQLITE_INSTALL, "postgresql": POSTGRESQL_INSTALL}.get(connection.vendor)
    if statements is None:
        raise ImproperlyConfigured(
            f"The audit log's append-only triggers exist for SQLite and PostgreSQL, not {connection.vendor}; "
            "use one of those databases."
        )
    # DDL is transactional on both, so the table is never without its triggers while they are replaced.
    with transaction.atomic(using=connection.alias):
        triggers_drop(connection)
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def triggers_drop(connection: BaseDatabaseWrapper, *, functions: bool = False) -> None:
    """Drop the append-only triggers (the flush command and tests of tampering need this)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for name in SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        elif connection.vendor == "postgresql":
            for name in POSTGRESQL_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {TABLE}")
            if functions:
                for name in POSTGRESQL_FUNCTIONS:
                    cursor.execute(f"DROP FUNCTION IF EXISTS {name}()")


def triggers_present(connection: BaseDatabaseWrapper) -> list[str]:
    """Name the append-only triggers that this database has."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE])
        elif connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [TABLE])
        else:
            return []
        return [row[0] for row in cursor.fetchall() if row[0] in SQLITE_TRIGGERS + POSTGRESQL_TRIGGERS]


def triggers_missing(connection: BaseDatabaseWrapper) -> list[str]:
    """Name the append-only triggers that this database lacks."""
    expected = POSTGRESQL_TRIGGERS if connection.vendor == "postgresql" else SQLITE_TRIGGERS
    present = set(triggers_present(connection))
    return [name for name in expected if name not in present]


def triggers_ensure(*, using: str = DEFAULT_DB_ALIAS, **kwargs: object) -> None:
    """Re-create the triggers after `migrate`: a migration that remakes the table on SQLite drops them,
    and a database migrated by an older release gets the current definitions."""
    connection = connections[using]
    if connection.vendor not in ("sqlite", "postgresql"):
        return
    recorder = MigrationRecorder(connection)
    if not recorder.has_table() or (INSTALLED_BY[0], INSTALLED_BY[1]) not in recorder.applied_migrations():
        return
    if TABLE in connection.introspection.table_names():
        triggers_install(connection)
