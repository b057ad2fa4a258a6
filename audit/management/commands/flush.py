"""Django's flush, which must lift the audit log's append-only triggers to empty its table."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands import flush
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

from audit.triggers import TABLE, triggers_drop, triggers_install, triggers_present


class Command(flush.Command):
    def handle(self, **options) -> None:
        connection = connections[options.get("database", DEFAULT_DB_ALIAS)]
        if TABLE not in connection.introspection.table_names():
            return super().handle(**options)
        if settings.PRODUCTION:
            raise CommandError(
                "flush would erase the append-only audit log, so it is refused in production "
                "(CHLOPS_ENV=production); prune old rows with `python manage.py audit prune --before DATE`."
            )
        # The test runner flushes between transactional tests; restore exactly what was there.
        had_triggers = bool(triggers_present(connection))
        for attempt in range(DEADLOCK_ATTEMPTS):
            try:
                with transaction.atomic(using=connection.alias):
                    triggers_drop(connection)
                    super().handle(**options)
                    if had_triggers:
                        triggers_install(connection)
                return
            except (CommandError, DatabaseError) as exc:
                # PostgreSQL's TRUNCATE can deadlock with a worker still finishing a job that a test
                # queued; the database aborts one side, and the flush is the one that can try again.
                if attempt == DEADLOCK_ATTEMPTS - 1 or not _deadlocked(exc):
                    raise
                time.sleep(0.2 * (attempt + 1))


DEADLOCK_ATTEMPTS = 5


def _deadlocked(error: BaseException | None) -> bool:
    while error is not None:
        if getattr(error, "sqlstate", None) == "40P01" or "deadlock detected" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False
