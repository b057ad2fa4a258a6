"""Read the audit log: verify the chain, stream rows for export, and cheap facts for the admin."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Min, QuerySet
from django.utils import timezone

from audit.chain import GENESIS_HASH, HASHED_FIELDS, PRUNE_ACTION, values_hash
from audit.models import AuditLog

EXPORT_FIELDS = HASHED_FIELDS + ("hash",)


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    rows: int  # rows found intact (before the first bad one, when there is one)
    first_bad: int | None = None
    reason: str = ""


def auditlog_rows(
    *,
    queryset: QuerySet | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    upto_id: int | None = None,
    fields: tuple[str, ...] = EXPORT_FIELDS,
    chunk_size: int = 2000,
) -> Iterator[list[tuple]]:
    """Yield rows in chain order, a chunk at a time, by keyset: constant memory at any size."""
    rows = (queryset if queryset is not None else AuditLog.objects.all()).order_by("id")
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    if upto_id is not None:
        rows = rows.filter(id__lte=upto_id)
    rows = rows.values_list(*fields)
    id_index = fields.index("id")
    chunk = list(rows[:chunk_size])
    while chunk:
        yield chunk
        chunk = list(rows.filter(id__gt=chunk[-1][id_index])[:chunk_size])


def auditlog_last_id() -> int:
    return AuditLog.objects.order_by("-id").values_list("id", flat=True).first() or 0


def auditlog_verify(*, chunk_size: int = 5000) -> ChainReport:
    """Walk the chain from its first row and report the first row that does not hold."""
    names = HASHED_FIELDS + ("hash",)
    checked = 0
    previous: dict[str, Any] | None = None
    for chunk in auditlog_rows(fields=names, chunk_size=chunk_size):
        for values in chunk:
            row = dict(zip(names, values, strict=True))
            stored = row.pop("hash")
            if previous is None:
                problem = _chain_start_problem(row)
            elif row["prev_hash"] != previous["hash"]:
                problem = (
                    f"its prev_hash does not match the hash of row #{previous['id']} before it "
                    "(a row between them was deleted, or one of them was changed)"
                )
            else:
                problem = ""
            if not problem and values_hash(**row) != stored:
                problem = "its content does not match its hash (it was changed after it was written)"
            if problem:
                return ChainReport(intact=False, rows=checked, first_bad=row["id"], reason=problem)
            previous = {"id": row["id"], "hash": stored}
            checked += 1
    return ChainReport(intact=True, rows=checked)


def _chain_start_problem(row: dict[str, Any]) -> str:
    if row["id"] == 1 and row["prev_hash"] == GENESIS_HASH:
        return ""
    anchors = AuditLog.objects.filter(action=PRUNE_ACTION, id__gte=row["id"]).order_by("-id")
    for details in anchors.values_list("details", flat=True).iterator():
        if (
            isinstance(details, dict)
            and details.get("first_kept_id") == row["id"]
            and details.get("first_kept_prev_hash") == row["prev_hash"]
        ):
            # The anchor is itself a link of the chain checked after this row, so its word holds.
            return ""
    return (
        "it is the first row, yet no prune anchor vouches for its prev_hash "
        "(rows before it were deleted without `audit prune`)"
    )


def auditlog_distinct(*, column: str, limit: int = 200) -> list[Any]:
    """List a column's distinct values by hopping through its index (no scan of the table)."""
    if column not in {"action", "actor_id"}:
        raise ValueError(f"no index to hop through for {column}")
    table = AuditLog._meta.db_table
    sql = f"""
        WITH RECURSIVE seen(value, n) AS (
            SELECT (SELECT min({column}) FROM {table}), 1
            UNION ALL
            SELECT (SELECT min({column}) FROM {table} WHERE {column} > seen.value), n + 1
            FROM seen WHERE seen.value IS NOT NULL AND n < %s
        )
        SELECT value FROM seen WHERE value IS NOT NULL
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        return [row[0] for row in cursor.fetchall()]


def auditlog_actor_names(*, actor_ids: list[int]) -> dict[int, str]:
    """Name each actor id by the username its newest row recorded (users may since be gone)."""
    names = {}
    for actor_id in actor_ids:
        row = (
            AuditLog.objects.filter(actor_id=actor_id).order_by("-created_at").values_list("actor_username", flat=True)
        )
        names[actor_id] = row.first() or f"user #{actor_id}"
    return names


def auditlog_periods(*, queryset: QuerySet, kind: str, limit: int = 100) -> list[datetime]:
    """List the years, months or days that have rows, one index probe each instead of a scan."""
    tz = timezone.get_current_timezone()
    periods: list[datetime] = []
    rows = queryset.order_by()
    while len(periods) < limit:
        first = rows.aggregate(first=Min("created_at"))["first"]
        if first is None:
            break
        start = _period_start(timezone.localtime(first, tz), kind)
        periods.append(start)
        rows = queryset.order_by().filter(created_at__gte=_period_next(start, kind))
    return periods


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


def auditlog_count_estimate() -> int | None:
    """Return PostgreSQL's own estimate of the table's rows, or None where there is none."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [AuditLog._meta.db_table])
        row = cursor.fetchone()
    # -1 means never analyzed.
    return row[0] if row and row[0] >= 0 else None


def auditlog_count_capped(*, queryset: QuerySet, cap: int) -> int:
    """Count rows, but stop at cap + 1: enough to know there are more."""
    return queryset.order_by()[: cap + 1].count()
