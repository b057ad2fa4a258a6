"""The audit changelist's date hierarchy, drawn from index probes instead of a scan of every row."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet

from audit.selectors import auditlog_periods

register = template.Library()


class _IndexedDates:
    """The two things date_hierarchy asks of a queryset, answered cheaply."""

    def __init__(self, queryset: QuerySet) -> None:
        self.queryset = queryset

    def aggregate(self, **aggregates: Any) -> dict[str, Any]:
        return self.queryset.aggregate(**aggregates)

    def datetimes(self, field_name: str, kind: str) -> list[datetime]:
        return auditlog_periods(queryset=self.queryset, kind=kind)


@register.inclusion_tag("admin/date_hierarchy.html")
def audit_date_hierarchy(cl: ChangeList) -> dict[str, Any]:
    # Django's own tag runs SELECT DISTINCT over the filtered rows: a full scan when unfiltered.
    cheap = copy.copy(cl)
    cheap.queryset = _IndexedDates(cl.queryset)
    return date_hierarchy(cheap) or {}
