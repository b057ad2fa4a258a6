"""The audit log's QuerySet: reads only; every bulk write is refused before it reaches the database."""

from __future__ import annotations

from typing import NoReturn

from django.db import models


class AuditLogImmutable(Exception):
    """Raised when code tries to change or delete an audit row."""


class AuditLogQuerySet(models.QuerySet):
    # The database triggers are the real guarantee; these make the mistake fail early and clearly.
    def update(self, **kwargs) -> NoReturn:
        raise AuditLogImmutable("Audit log entries cannot be changed.")

    def delete(self) -> NoReturn:
        raise AuditLogImmutable(
            "Audit log entries cannot be deleted; use `python manage.py audit prune --before DATE`."
        )

    def bulk_update(self, objs, fields, batch_size=None) -> NoReturn:
        raise AuditLogImmutable("Audit log entries cannot be changed.")

    def bulk_create(self, objs, *args, **kwargs) -> NoReturn:
        raise AuditLogImmutable("Audit log entries are appended one by one by audit.services.audit_record.")

    def _raw_delete(self, using) -> NoReturn:
        raise AuditLogImmutable(
            "Audit log entries cannot be deleted; use `python manage.py audit prune --before DATE`."
        )

    def update_or_create(self, *args, **kwargs) -> NoReturn:
        raise AuditLogImmutable("Audit log entries cannot be changed.")

    # As on Django's QuerySet: templates may not call these, and delete() stays off the manager.
    delete.alters_data = True
    delete.queryset_only = True
    update.alters_data = True
    _raw_delete.alters_data = True
