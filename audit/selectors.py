"""Read the audit log: verify the chain, stream rows for export, and name the actors of its rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

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


def auditlog_actor_names(*, actor_ids: list[int]) -> dict[int, str]:
    """Name each actor id by the username its newest row recorded (users may since be gone)."""
    names = {}
    for actor_id in actor_ids:
        row = (
            AuditLog.objects.filter(actor_id=actor_id).order_by("-created_at").values_list("actor_username", flat=True)
        )
        names[actor_id] = row.first() or f"user #{actor_id}"
    return names
