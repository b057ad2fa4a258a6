"""Audit rows written through audit_record, at chosen times when a test needs old rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

from django.db import connection
from django.utils import timezone

from audit.models import AuditLog
from audit.services import audit_record
from audit.triggers import triggers_drop, triggers_install


def record(**kwargs: Any) -> AuditLog:
    kwargs.setdefault("action", "test.event")
    kwargs.setdefault("source", "system")
    return audit_record(**kwargs)


def record_at(moment: datetime, **kwargs: Any) -> AuditLog:
    """Append a row as if the clock said `moment` (the chain stays valid; only created_at differs)."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        return record(**kwargs)


def record_days_ago(days: float, **kwargs: Any) -> AuditLog:
    return record_at(timezone.now() - timedelta(days=days), **kwargs)


@contextmanager
def triggers_lifted() -> Iterator[None]:
    """Drop the append-only triggers for a tampering test; they come back (and the test's transaction rolls back)."""
    triggers_drop(connection)
    try:
        yield
    finally:
        triggers_install(connection)


def tamper(sql: str, params: list[Any]) -> None:
    with triggers_lifted(), connection.cursor() as cursor:
        cursor.execute(sql, params)
