from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from audit.chain import GENESIS_HASH, PRUNE_ACTION
from audit.models import AuditLog, Outcome
from audit.selectors import auditlog_verify
from audit.services import PruneError, audit_denied, audit_record, auditlog_prune, row_hash
from tests.audit.factories import record, record_days_ago

pytestmark = pytest.mark.django_db


class AuditRecordTests:
    def test_rows_link_into_a_chain(self):
        first, second = record(), record()
        assert first.pk == 1 and first.prev_hash == GENESIS_HASH
        assert second.prev_hash == first.hash
        assert row_hash(AuditLog.objects.get(pk=second.pk)) == second.hash

    def test_request_gives_ip_and_user_agent(self, auditor):
        request = RequestFactory().get("/", REMOTE_ADDR="2001:DB8:0:0::1", HTTP_USER_AGENT="curl/8")
        row = audit_record(action="test.event", source="web", actor=auditor, request=request)
        stored = AuditLog.objects.get(pk=row.pk)
        assert stored.ip == "2001:db8::1" and stored.user_agent == "curl/8"
        assert stored.actor_username == "arthur"
        assert auditlog_verify().intact

    def test_nul_characters_are_dropped_rather_than_failing_the_write(self):
        row = record(target="a\x00b", details={"name": "x\x00y", "list": ["\x00"]})
        stored = AuditLog.objects.get(pk=row.pk)
        assert stored.target == "ab" and stored.details == {"name": "xy", "list": [""]}
        assert auditlog_verify().intact


class AuditDeniedTests:
    def test_records_who_was_refused_what(self, operator):
        request = RequestFactory().post("/admin/audit/auditlog/", REMOTE_ADDR="10.0.0.7")
        request.user = operator
        row = audit_denied(request=request, permission="audit.view_auditlog", source="admin")
        assert (row.action, row.outcome, row.actor_username) == ("permission.denied", Outcome.DENIED, "olivia")
        assert row.target == "/admin/audit/auditlog/"
        assert row.details == {"method": "POST", "permission": "audit.view_auditlog"}
        assert row.ip == "10.0.0.7"


class AuditlogPruneTests:
    def test_deletes_old_rows_and_the_chain_still_verifies(self):
        for days in (40, 35, 31):
            record_days_ago(days)
        kept = [record_days_ago(days) for days in (20, 2)]
        result = auditlog_prune(before=timezone.now() - timedelta(days=30))
        assert result.deleted == 3
        assert result.first_kept_id == kept[0].pk
        assert list(AuditLog.objects.order_by("id").values_list("id", flat=True)) == [
            kept[0].pk,
            kept[1].pk,
            result.anchor.pk,
        ]
        assert result.anchor.action == PRUNE_ACTION
        assert result.anchor.details["first_kept_prev_hash"] == kept[0].prev_hash
        report = auditlog_verify()
        assert report.intact and report.rows == 3

    def test_pruning_everything_leaves_the_anchor_starting_the_chain(self):
        record_days_ago(3)
        record_days_ago(2)
        result = auditlog_prune(before=timezone.now() - timedelta(days=1))
        assert result.deleted == 2
        assert list(AuditLog.objects.values_list("id", flat=True)) == [result.anchor.pk]
        assert auditlog_verify().intact

    def test_pruning_twice_keeps_the_chain_verifiable(self):
        for days in (50, 40, 30, 20, 10):
            record_days_ago(days)
        auditlog_prune(before=timezone.now() - timedelta(days=45))
        record_days_ago(5)
        second = auditlog_prune(before=timezone.now() - timedelta(days=25))
        assert second.deleted == 2
        assert AuditLog.objects.order_by("id").first().pk == second.first_kept_id
        assert auditlog_verify().intact

    def test_dry_run_deletes_nothing(self):
        record_days_ago(10)
        result = auditlog_prune(before=timezone.now() - timedelta(days=5), dry_run=True)
        assert result.deleted == 1 and result.anchor is None
        assert AuditLog.objects.count() == 1

    def test_future_cutoff_is_refused(self):
        with pytest.raises(PruneError, match="is in the future"):
            auditlog_prune(before=timezone.now() + timedelta(days=1))
