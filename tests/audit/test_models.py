from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import serializers
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.chain import PRUNE_ACTION
from audit.models import AuditLog, AuditLogImmutable
from audit.services import auditlog_prune
from audit.triggers import triggers_missing
from tests.audit.factories import record, record_days_ago

pytestmark = pytest.mark.django_db


def raw(sql: str, params: list | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])


class AuditLogModelTests:
    def test_saving_an_existing_row_is_refused(self):
        row = record()
        row.action = "forged"
        with pytest.raises(AuditLogImmutable, match="cannot be changed"):
            row.save()
        assert AuditLog.objects.get(pk=row.pk).action == "test.event"

    def test_deleting_a_row_is_refused(self):
        row = record()
        with pytest.raises(AuditLogImmutable, match="audit prune --before DATE"):
            row.delete()
        assert AuditLog.objects.filter(pk=row.pk).exists()


class AuditLogQuerySetTests:
    def test_update_is_refused(self):
        record()
        with pytest.raises(AuditLogImmutable, match="cannot be changed"):
            AuditLog.objects.filter(action="test.event").update(action="forged")

    def test_delete_is_refused(self):
        record()
        with pytest.raises(AuditLogImmutable, match="cannot be deleted"):
            AuditLog.objects.all().delete()
        assert AuditLog.objects.count() == 1

    def test_bulk_operations_are_refused(self):
        row = record()
        with pytest.raises(AuditLogImmutable):
            AuditLog.objects.bulk_update([row], ["action"])
        with pytest.raises(AuditLogImmutable):
            AuditLog.objects.bulk_create([AuditLog(action="x", source="system", prev_hash="", hash="x")])
        with pytest.raises(AuditLogImmutable):
            AuditLog.objects.update_or_create(pk=row.pk, defaults={"action": "x"})


class AuditLogTriggerTests:
    def test_triggers_are_installed_by_the_migration(self):
        assert triggers_missing(connection) == []

    def test_raw_sql_update_is_refused(self):
        row = record()
        with pytest.raises(IntegrityError, match="append-only"):
            raw("UPDATE audit_auditlog SET action = 'forged' WHERE id = %s", [row.pk])
        assert AuditLog.objects.get(pk=row.pk).action == "test.event"

    def test_raw_sql_delete_is_refused(self):
        row = record()
        with pytest.raises(IntegrityError, match="append-only"):
            raw("DELETE FROM audit_auditlog WHERE id = %s", [row.pk])
        with pytest.raises(IntegrityError, match="append-only"):
            raw("DELETE FROM audit_auditlog")
        assert AuditLog.objects.filter(pk=row.pk).exists()

    @pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no TRUNCATE")
    def test_raw_sql_truncate_is_refused(self):
        record()
        with pytest.raises(IntegrityError, match="cannot be truncated"):
            raw("TRUNCATE audit_auditlog")

    def test_raw_sql_may_delete_only_rows_older_than_a_prune_anchor(self):
        old = record_days_ago(10)
        recent = record_days_ago(1)
        auditlog_prune(before=timezone.now() - timedelta(days=30))  # an anchor whose cutoff covers nothing
        with pytest.raises(IntegrityError, match="append-only"):
            raw("DELETE FROM audit_auditlog WHERE id = %s", [old.pk])
        anchor = auditlog_prune(before=timezone.now() - timedelta(days=5)).anchor
        assert not AuditLog.objects.filter(pk=old.pk).exists()
        with pytest.raises(IntegrityError, match="append-only"):
            raw("DELETE FROM audit_auditlog WHERE id = %s", [recent.pk])
        with pytest.raises(IntegrityError, match="append-only"):
            raw("DELETE FROM audit_auditlog WHERE id = %s", [anchor.pk])

    def test_loaddata_can_restore_rows(self):
        # A raw save tries UPDATE (matching nothing) before INSERT; only a changed row is refused.
        row = record()
        dumped = json.loads(serializers.serialize("json", [row]))
        dumped[0].update(pk=row.pk + 1)
        dumped[0]["fields"]["hash"] = "f" * 64
        for restored in serializers.deserialize("json", json.dumps(dumped)):
            restored.save()
        assert AuditLog.objects.filter(pk=row.pk + 1).exists()
        dumped[0]["fields"]["action"] = "forged"
        with pytest.raises(IntegrityError, match="append-only"):
            with transaction.atomic():
                for restored in serializers.deserialize("json", json.dumps(dumped)):
                    restored.save()

    def test_an_anchor_cannot_license_deleting_the_future(self):
        with pytest.raises(IntegrityError, match="prune anchor"):
            with transaction.atomic():
                record(action=PRUNE_ACTION, details={"cutoff": "2999-01-01T00:00:00+00:00"})
        with pytest.raises(IntegrityError, match="prune anchor"):
            with transaction.atomic():
                record(action=PRUNE_ACTION, details={"note": "no cutoff"})
