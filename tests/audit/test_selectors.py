from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit.selectors import auditlog_rows, auditlog_verify
from tests.audit.factories import record, record_at, tamper

pytestmark = pytest.mark.django_db


class AuditlogVerifyTests:
    def test_an_empty_log_is_intact(self):
        assert auditlog_verify().intact

    def test_an_untouched_chain_is_intact(self):
        for number in range(7):
            record(details={"n": number})
        report = auditlog_verify(chunk_size=3)
        assert report.intact and report.rows == 7 and report.first_bad is None

    def test_a_changed_row_is_named(self):
        rows = [record() for _ in range(5)]
        tamper("UPDATE audit_auditlog SET target = 'forged' WHERE id = %s", [rows[2].pk])
        report = auditlog_verify(chunk_size=2)
        assert not report.intact
        assert report.first_bad == rows[2].pk and report.rows == 2
        assert "does not match its hash" in report.reason

    def test_a_deleted_row_is_caught_at_the_row_after_it(self):
        rows = [record() for _ in range(4)]
        tamper("DELETE FROM audit_auditlog WHERE id = %s", [rows[1].pk])
        report = auditlog_verify()
        assert report.first_bad == rows[2].pk
        assert "prev_hash does not match" in report.reason

    def test_deleting_the_first_rows_without_a_prune_is_caught(self):
        rows = [record() for _ in range(3)]
        tamper("DELETE FROM audit_auditlog WHERE id = %s", [rows[0].pk])
        report = auditlog_verify()
        assert report.first_bad == rows[1].pk
        assert "no prune anchor vouches" in report.reason


class AuditlogRowsTests:
    def test_streams_every_row_in_chain_order_by_chunks(self):
        for _ in range(5):
            record()
        chunks = list(auditlog_rows(fields=("id",), chunk_size=2))
        assert [[row[0] for row in chunk] for chunk in chunks] == [[1, 2], [3, 4], [5]]

    def test_filters_by_time_and_upper_id(self):
        record_at(datetime(2024, 1, 1, tzinfo=UTC))
        record_at(datetime(2024, 2, 1, tzinfo=UTC))
        record_at(datetime(2024, 3, 1, tzinfo=UTC))
        rows = auditlog_rows(
            fields=("id",), since=datetime(2024, 1, 15, tzinfo=UTC), until=datetime(2024, 3, 1, tzinfo=UTC)
        )
        assert [row[0] for chunk in rows for row in chunk] == [2]
        assert [row[0] for chunk in auditlog_rows(fields=("id",), upto_id=2) for row in chunk] == [1, 2]
