"""Changelists for tables of millions of rows: no full COUNT(*), and date navigation and filter
choices from index probes instead of scans (the audit log's and the jobs' changelists)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection, models
from django.db.models import Max, Min, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import cached_property

# A deep page still knows a few pages ahead of itself without counting the whole table.
PAGES_AHEAD = 10
COUNT_CAP = 10_000


class CheapCountPaginator(Paginator):
    """Count with PostgreSQL's estimate when unfiltered, else count only up to `cap` rows."""

    def __init__(
        self,
        object_list: QuerySet,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
        *,
        cap: int = COUNT_CAP,
    ) -> None:
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.cap = cap
        self.count_is_estimate = False
        self.count_is_capped = False

    @cached_property
    def count(self) -> int:
        if not self.object_list.query.has_filters():
            estimate = count_estimate(self.object_list.model)
            if estimate is not None and estimate > self.cap:
                self.count_is_estimate = True
                return estimate
        count = count_capped(queryset=self.object_list, cap=self.cap)
        self.count_is_capped = count > self.cap
        return count

    @property
    def count_label(self) -> str:
        """Say how many rows there are, as honestly as the count allows: "about 5,000,000", "10,000+"."""
        count = self.count
        if self.count_is_estimate:
            return f"about {count:,}"
        if self.count_is_capped:
            return f"{self.cap:,}+"
        return f"{count:,}"


class LargeTableAdmin(admin.ModelAdmin):
    """A changelist that stays fast at millions of rows: a capped count, no facet counts, and a date
    hierarchy drawn from index probes (index the date field, alone and after each filtered column)."""

    paginator = CheapCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    change_list_template = "admin/large_table/change_list.html"

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> CheapCountPaginator:
        try:
            page = max(1, int(request.GET.get("p", 1)))
        except ValueError:
            page = 1
        cap = max(COUNT_CAP, (page + PAGES_AHEAD) * per_page)
        return self.paginator(queryset, per_page, orphans, allow_empty_first_page, cap=cap)


def count_estimate(model: type[models.Model]) -> int | None:
    """Return PostgreSQL's own estimate of a table's rows, or None where there is none."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
        row = cursor.fetchone()
    # -1 means never analyzed.
    return row[0] if row and row[0] >= 0 else None


def count_capped(*, queryset: QuerySet, cap: int) -> int:
    """Count rows, but stop at cap + 1: enough to know there are more."""
    return queryset.order_by()[: cap + 1].count()


def distinct_values(model: type[models.Model], *, column: str, limit: int = 200) -> list[Any]:
    """List a column's distinct values by hopping through an index that leads with it (no scan)."""
    if column not in _leading_index_columns(model):
        raise ValueError(f"no index of {model._meta.db_table} leads with {column}, so there is none to hop through")
    table, name = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name(column)
    sql = f"""
        WITH RECURSIVE seen(value, n) AS (
            SELECT (SELECT min({name}) FROM {table}), 1
            UNION ALL
            SELECT (SELECT min({name}) FROM {table} WHERE {name} > seen.value), n + 1
            FROM seen WHERE seen.value IS NOT NULL AND n < %s
        )
        SELECT value FROM seen WHERE value IS NOT NULL
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        return [row[0] for row in cursor.fetchall()]


def _leading_index_columns(model: type[models.Model]) -> set[str]:
    opts = model._meta
    leading = {field.column for field in opts.concrete_fields if field.db_index or field.unique}
    for index in opts.indexes:
        if index.fields and index.condition is None:
            leading.add(opts.get_field(index.fields[0].lstrip("-")).column)
    return leading


def periods(*, queryset: QuerySet, field: str, kind: str, limit: int = 100) -> list[datetime]:
    """List the years, months or days of a datetime field that have rows, one index probe each
    instead of a scan (Django's own `datetimes()` reads every row)."""
    tz = timezone.get_current_timezone()
    found: list[datetime] = []
    rows = queryset.order_by()
    while len(found) < limit:
        first = rows.aggregate(first=Min(field))["first"]
        if first is None:
            break
        start = _period_start(timezone.localtime(first, tz), kind)
        found.append(start)
        rows = queryset.order_by().filter(**{f"{field}__gte": _period_next(start, kind)})
    return found


def _period_start(moment: datetime, kind: str) -> datetime:
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind in ("month", "year"):
        start = start.replace(day=1)
    if kind == "year":
        start = start.replace(month=1)
    return start


def _period_next(start: datetime, kind: str) -> datetime:
    if kind == "day":
        naive = start.replace(tzinfo=None) + timedelta(days=1)
    elif kind == "month":
        naive = start.replace(tzinfo=None, year=start.year + start.month // 12, month=start.month % 12 + 1)
    else:
        naive = start.replace(tzinfo=None, year=start.year + 1)
    return timezone.make_aware(naive, start.tzinfo)


class IndexedDates:
    """The two things Django's date_hierarchy asks of a changelist's queryset, answered by probes."""

    def __init__(self, queryset: QuerySet) -> None:
        self.queryset = queryset

    def aggregate(self, **aggregates: Min | Max) -> dict[str, Any]:
        # One aggregate per query: SQLite answers a lone MIN or MAX from the index, never the two at once.
        return {name: self.queryset.order_by().aggregate(value=aggregate)["value"] for name, aggregate in aggregates.items()}

    def datetimes(self, field_name: str, kind: str) -> list[datetime]:
        return periods(queryset=self.queryset, field=field_name, kind=kind)
