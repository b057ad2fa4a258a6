"""Write the audit log: `audit_record` is its only writer."""

from __future__ import annotations

import getpass
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from audit.chain import GENESIS_HASH, PRUNE_ACTION, values_hash
from audit.context import current_request
from audit.exports import export_lines
from audit.models import AuditLog, Outcome
from audit.selectors import auditlog_last_id, auditlog_rows
from chlops.clientip import client_ip
from chlops.exceptions import ChlopsError

__all__ = ["GENESIS_HASH", "audit_denied", "audit_record", "auditlog_prune", "row_hash"]

# Any constant works: it names the advisory lock that serializes appends on PostgreSQL.
CHAIN_LOCK_ID = 0x636C6F7073
PRUNE_BATCH = 10_000


def row_hash(row: AuditLog) -> str:
    """Hash a row's content together with the hash of the row before it."""
    return values_hash(
        id=row.pk,
        created_at=row.created_at,
        actor_id=row.actor_id,
        actor_username=row.actor_username,
        source=row.source,
        action=row.action,
        target=row.target,
        outcome=row.outcome,
        details=row.details,
        ip=row.ip,
        user_agent=row.user_agent,
        correlation_id=row.correlation_id,
        prev_hash=row.prev_hash,
    )


def _text(value: object, limit: int) -> str:
    # PostgreSQL refuses NUL in text columns; a hostile user agent must not make auditing fail.
    return str(value).replace("\x00", "")[:limit]


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


def audit_record(
    *,
    action: str,
    source: str,
    actor: Any = None,
    target: str = "",
    outcome: str = Outcome.SUCCESS,
    details: dict | None = None,
    request: HttpRequest | None = None,
    correlation_id: uuid.UUID | str | None = None,
) -> AuditLog:
    """Append one row to the chain, serialized against every other append."""
    request = request or current_request.get()
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    details = _without_nul(json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder)))
    with transaction.atomic():
        _lock_chain()
        last = AuditLog.objects.order_by("-id").values_list("id", "hash").first()
        row = AuditLog(
            id=(last[0] + 1) if last else 1,
            created_at=timezone.now(),
            actor=actor,
            actor_username=_text(actor.get_username(), 150) if actor else "",
            source=source,
            action=action,
            target=_text(target, 255),
            outcome=outcome,
            details=details,
            # The address the login protection counts too: the peer, or the client a trusted proxy names.
            ip=client_ip(request) if request else None,
            user_agent=_text(request.META.get("HTTP_USER_AGENT", ""), 512) if request else "",
            correlation_id=correlation_id or None,
            prev_hash=last[1] if last else GENESIS_HASH,
        )
        if row.correlation_id and not isinstance(row.correlation_id, uuid.UUID):
            row.correlation_id = uuid.UUID(str(row.correlation_id))
        row.hash = row_hash(row)
        row.save(force_insert=True)
    return row


def audit_denied(
    *,
    request: HttpRequest,
    permission: str,
    source: str,
    target: str | None = None,
    details: dict | None = None,
) -> AuditLog:
    """Record that request's user was refused `permission`; the 403 itself is the caller's to send."""
    row = audit_record(
        action="permission.denied",
        actor=getattr(request, "user", None),
        source=source,
        target=target if target is not None else request.get_full_path(),
        outcome=Outcome.DENIED,
        details={"method": request.method, "permission": permission, **(details or {})},
        request=request,
    )
    # The middleware audits PermissionDenied it sees; this keeps it from recording the same refusal twice.
    request.audit_denied_recorded = True
    return row


def _lock_chain() -> None:
    # SQLite needs nothing: IMMEDIATE transactions already hold the database's one write lock.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_ID])


class PruneError(ChlopsError):
    pass


@dataclass(frozen=True)
class PruneResult:
    anchor: AuditLog | None  # None on a dry run
    deleted: int
    first_kept_id: int


def auditlog_prune(*, before: datetime, actor: Any = None, source: str = "cli", dry_run: bool = False) -> PruneResult:
    """Append a prune anchor that vouches for the first row kept, then delete every row before it."""
    if timezone.is_naive(before):
        before = timezone.make_aware(before)
    cutoff = before.astimezone(UTC).replace(microsecond=0)
    if cutoff > timezone.now():
        raise PruneError(f"--before {cutoff.isoformat()} is in the future; rows can only be pruned once they are old.")
    with transaction.atomic():
        # Hold the chain while choosing the first kept row, so no append slips in between.
        _lock_chain()
        first_kept = (
            AuditLog.objects.filter(created_at__gte=cutoff).order_by("id").values_list("id", "prev_hash").first()
        )
        last = AuditLog.objects.order_by("-id").values_list("id", "hash").first()
        if first_kept is None:
            # Everything goes but the anchor, which then starts the chain.
            first_kept = ((last[0] + 1) if last else 1, last[1] if last else GENESIS_HASH)
        doomed = AuditLog.objects.filter(id__lt=first_kept[0]).count()
        if dry_run:
            return PruneResult(anchor=None, deleted=doomed, first_kept_id=first_kept[0])
        anchor = audit_record(
            action=PRUNE_ACTION,
            actor=actor,
            source=source,
            target=f"rows before {cutoff.isoformat()}",
            details={
                "cutoff": cutoff.isoformat(),
                "first_kept_id": first_kept[0],
                "first_kept_prev_hash": first_kept[1],
                "deleting": doomed,
                "os_user": _os_user() if source == "cli" else None,
            },
        )
    return PruneResult(anchor=anchor, deleted=_delete_before(first_kept[0]), first_kept_id=first_kept[0])


def _delete_before(first_kept_id: int) -> int:
    # Raw SQL in id ranges, a transaction each: the QuerySet refuses delete(), and the triggers
    # check every deleted row against the anchor just written.
    deleted = 0
    low = AuditLog.objects.order_by("id").values_list("id", flat=True).first()
    while low is not None and low < first_kept_id:
        high = min(low + PRUNE_BATCH, first_kept_id)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {AuditLog._meta.db_table} WHERE id >= %s AND id < %s", [low, high])
            deleted += cursor.rowcount
        low = high
    return deleted


class TextSink(Protocol):
    def write(self, text: str, /) -> object: ...


def auditlog_export_write(
    *,
    stream: TextSink,
    format: str,
    since: datetime | None = None,
    until: datetime | None = None,
    target: str = "stdout",
    source: str = "cli",
    actor: Any = None,
) -> int:
    """Stream the rows written so far to `stream` as CSV or JSONL, then record the export; return the row count."""
    upto_id = auditlog_last_id()  # rows appended meanwhile (this export's own row too) stay out
    written = 0

    def counted(chunks: Iterator[list[tuple]]) -> Iterator[list[tuple]]:
        nonlocal written
        for chunk in chunks:
            written += len(chunk)
            yield chunk

    for text in export_lines(counted(auditlog_rows(since=since, until=until, upto_id=upto_id)), format=format):
        stream.write(text)
    audit_record(
        action="audit.export",
        actor=actor,
        source=source,
        target=target,
        details={
            "format": format,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "rows": written,
            "upto_id": upto_id,
            "os_user": _os_user() if source == "cli" else None,
        },
    )
    return written


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def auditlog_export_stream(
    *,
    queryset: QuerySet,
    actor: Any,
    request: HttpRequest | None = None,
    format: str = "csv",
    source: str = "admin",
    scope: dict | None = None,
) -> Iterator[str]:
    """Record an export of the queryset's rows, then return its text to stream, chunk by chunk."""
    upto_id = auditlog_last_id()  # the export's own row, and rows appended while it streams, stay out
    audit_record(
        action="audit.export",
        actor=actor,
        source=source,
        target="audit log",
        details={"format": format, "upto_id": upto_id, **(scope or {})},
        request=request,
    )
    return export_lines(auditlog_rows(queryset=queryset, upto_id=upto_id), format=format)
