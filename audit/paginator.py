"""A paginator for tables of millions of rows: it never runs a full COUNT(*)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

from audit.selectors import auditlog_count_capped, auditlog_count_estimate


class CheapCountPaginator(Paginator):
    """Count with PostgreSQL's estimate when unfiltered, else count only up to `cap` rows."""

    def __init__(
        self,
        object_list: QuerySet,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
        *,
        cap: int = 10_000,
    ) -> None:
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.cap = cap
        self.count_is_estimate = False
        self.count_is_capped = False

    @cached_property
    def count(self) -> int:
        if not self.object_list.query.has_filters():
            estimate = auditlog_count_estimate()
            if estimate is not None and estimate > self.cap:
                self.count_is_estimate = True
                return estimate
        count = auditlog_count_capped(queryset=self.object_list, cap=self.cap)
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
