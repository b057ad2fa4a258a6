from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db.models import Max, Min

from audit.models import AuditLog
from chlops.changelists import CheapCountPaginator, IndexedDates, distinct_values, periods
from operations.models import Job
from tests.audit.factories import record, record_at

pytestmark = pytest.mark.django_db


class CheapCountPaginatorTests:
    def test_counts_up_to_the_cap_and_says_so(self):
        for _ in range(5):
            record()
        paginator = CheapCountPaginator(AuditLog.objects.order_by("-id"), 2, cap=3)
        assert paginator.count == 4 and paginator.count_label == "3+"
        assert paginator.num_pages == 2

    def test_an_uncapped_count_is_exact(self):
        for action in ("job.start", "job.start", "job.cancel"):
            record(action=action)
        paginator = CheapCountPaginator(AuditLog.objects.filter(action="job.start"), 2, cap=3)
        assert paginator.count == 2 and paginator.count_label == "2"


class DistinctValuesTests:
    def test_lists_each_value_once(self, operator, auditor):
        for action in ("b.two", "a.one", "b.two", "c.three"):
            record(action=action, actor=operator)
        record(action="a.one", actor=auditor)
        assert distinct_values(AuditLog, column="action") == ["a.one", "b.two", "c.three"]
        assert distinct_values(AuditLog, column="actor_id") == sorted([operator.pk, auditor.pk])
        assert distinct_values(AuditLog, column="action", limit=2) == ["a.one", "b.two"]

    def test_hops_through_a_composite_index_that_leads_with_the_column(self):
        for job_type in ("drain", "canary", "drain"):
            Job.objects.create(type=job_type)
        assert distinct_values(Job, column="type") == ["canary", "drain"]

    def test_refuses_a_column_no_index_leads_with(self):
        with pytest.raises(ValueError, match="no index of audit_auditlog leads with target"):
            distinct_values(AuditLog, column="target")


class PeriodsTests:
    def test_lists_the_periods_that_have_rows(self):
        for moment in (
            datetime(2023, 5, 2, 10),
            datetime(2024, 1, 3, 9),
            datetime(2024, 1, 3, 23),
            datetime(2024, 2, 29, 1),
        ):
            record_at(moment.replace(tzinfo=UTC))
        rows = AuditLog.objects.all()
        assert [p.year for p in periods(queryset=rows, field="created_at", kind="year")] == [2023, 2024]
        assert [(p.year, p.month) for p in periods(queryset=rows, field="created_at", kind="month")] == [
            (2023, 5),
            (2024, 1),
            (2024, 2),
        ]
        days = periods(queryset=rows.filter(created_at__year=2024), field="created_at", kind="day")
        assert [(p.month, p.day) for p in days] == [(1, 3), (2, 29)]

    def test_the_date_hierarchys_range_is_the_same_as_one_query_would_give(self):
        for moment in (datetime(2024, 1, 3, 9), datetime(2024, 2, 29, 1), datetime(2023, 5, 2, 10)):
            record_at(moment.replace(tzinfo=UTC))
        rows = AuditLog.objects.all()
        together = rows.aggregate(first=Min("created_at"), last=Max("created_at"))
        assert IndexedDates(rows).aggregate(first=Min("created_at"), last=Max("created_at")) == together
