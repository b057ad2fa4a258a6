"""Jobs and errors as JSON (DESIGN §6)."""

from __future__ import annotations

from typing import Any

from chlops.exceptions import ChlopsError
from operations.models import Job, JobHistory


def job_json(job: Job, *, history: bool = False) -> dict[str, Any]:
    data = {
        "id": job.pk,
        "type": job.type,
        "state": job.state,
        "phase": job.phase,
        "progress": {"done": job.done, "total": job.total, "percent": job.percent, "eta_seconds": job.eta_seconds},
        "params": job.params,
        "result": job.result,
        "error": job.error,
        "lock_key": job.lock_key,
        "requested_by": job.requested_by.get_username() if job.requested_by_id else None,
        "source": job.source,
        "correlation_id": str(job.correlation_id),
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "cancel_requested_at": _iso(job.cancel_requested_at),
        "retry_of": job.retry_of_id,
    }
    if history:
        data["history"] = [history_json(h) for h in job.history.select_related("actor")]
    return data


def history_json(row: JobHistory) -> dict[str, Any]:
    return {
        "at": _iso(row.at),
        "kind": row.kind,
        "state": row.state,
        "phase": row.phase,
        "message": row.message,
        "data": row.data,
        "actor": row.actor.get_username() if row.actor_id else None,
    }


def error_body(exc: ChlopsError) -> dict[str, Any]:
    body: dict[str, Any] = {"error": exc.message}
    if "fields" in exc.extra:
        body["fields"] = exc.extra["fields"]
    conflict = getattr(exc, "conflict", None)
    if conflict is not None and conflict.pk:
        body["conflict"] = job_json(conflict)
    return body


def _iso(value) -> str | None:
    return value.isoformat() if value else None
