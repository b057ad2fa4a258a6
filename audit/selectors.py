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
CHAIN_FIELDS = HASHED_FIELDS + ("hash",)


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    rows: int  # rows found intact (before the first bad one, when there is one)
    first_bad: int | None = None
    reason: str = ""
    last: tuple[int, str] | None = None  # the last row found intact: (id, hash)


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
    return _chain_walk(auditlog_rows(fields=CHAIN_FIELDS, chunk_size=chunk_size), previous=None)


def auditlog_verify_after(*, after: tuple[int, str] | None, limit: int = 5000) -> ChainReport:
    """Verify at most `limit` rows after `after`, a row (id, hash) found intact before: the incremental check.

    The row itself is checked again first; when it is gone (pruned since), the walk starts over at the
    first row kept.
    """
    previous = None
    if after is not None:
        found = AuditLog.objects.filter(pk=after[0]).values_list(*CHAIN_FIELDS).first()
        if found is not None:
            row = dict(zip(CHAIN_FIELDS, found, strict=True))
            stored = row.pop("hash")
            if stored != after[1] or values_hash(**row) != stored:
                reason = "its content no longer matches the hash it had when it was verified (it was changed)"
                return ChainReport(intact=False, rows=0, first_bad=after[0], reason=reason)
            previous = {"id": after[0], "hash": stored}
    rows = auditlog_rows(
        queryset=AuditLog.objects.filter(id__gt=previous["id"]) if previous else None,
        fields=CHAIN_FIELDS,
        chunk_size=min(limit, 5000),
    )
    return _chain_walk(rows, previous=previous, limit=limit)


def _chain_walk(chunks: Iterator[list[tuple]], *, previous: dict[str, Any] | None, limit: int | None = None) -> ChainReport:
    checked = 0
    for chunk in chunks:
        for values in chunk:
            row = dict(zip(CHAIN_FIELDS, values, strict=True))
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
            if limit is not None and checked >= limit:
                return ChainReport(intact=True, rows=checked, last=(previous["id"], previous["hash"]))
    last = (previous["id"], previous["hash"]) if previous else None
    return ChainReport(intact=True, rows=checked, last=last)


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
