"""Read workers and queues as the cards, the API and the `workers` command show them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from chlops.exceptions import ServiceUnavailable
from monitoring.models import WorkerHeartbeat, WorkerState
from operations import workers as control

KINDS = ("experience", "manual", "document")
# What the card shows of a worker; a beat that changes none of it is not pushed.
VISIBLE = ("state", "kind", "gpu", "queues", "active", "processed", "failed")


def offline_cutoff(now: datetime) -> datetime:
    """A worker whose last beat is older than this is offline.

    The promise is "offline within CHLOPS_WORKER_OFFLINE_SECONDS of dying", and a worker may die just
    after a beat and be noticed only at the next check (the 5 s beat task): so one beat interval is
    taken off, never going below two missed beats.
    """
    interval = settings.CHLOPS_WORKER_HEARTBEAT_SECONDS or 5
    return now - timedelta(seconds=max(settings.CHLOPS_WORKER_OFFLINE_SECONDS - interval, 2 * interval))


def worker_list() -> list[WorkerHeartbeat]:
    """Every known worker, with `state` as an operator should read it now and `age` of its last beat."""
    now = timezone.now()
    cutoff = offline_cutoff(now)
    draining = control.drain_active() is not None
    rows = list(WorkerHeartbeat.objects.all())
    for row in rows:
        if row.last_seen < cutoff:
            row.state = WorkerState.OFFLINE
        elif draining and row.state == WorkerState.ONLINE:
            row.state = WorkerState.DRAINING
        row.age = max(0.0, (now - row.last_seen).total_seconds())
    return rows


def worker_hostnames_live() -> list[str]:
    return [row.hostname for row in worker_list() if row.state != WorkerState.OFFLINE]


def worker_json(row: WorkerHeartbeat) -> dict[str, Any]:
    return {
        "hostname": row.hostname,
        "kind": row.kind,
        "state": row.state,
        "queues": row.queues if row.state != WorkerState.OFFLINE else [],
        "active": row.active if row.state != WorkerState.OFFLINE else [],
        "processed": row.processed,
        "failed": row.failed,
        "gpu": row.gpu,
        "load": row.load,
        "memory_bytes": row.memory_bytes,
        "version": row.version,
        "up_since": row.up_since.isoformat(),
        "last_seen": row.last_seen.isoformat(),
        "heartbeat_age_seconds": round(row.age, 1),
    }


def rate_per_minute() -> float:
    """Tasks finished per minute over the last minute, summed over the workers still beating."""
    return round(sum(row.rate_per_minute for row in worker_list() if row.state != WorkerState.OFFLINE), 1)


def corpus_counts() -> dict[str, dict[str, int]]:
    counts = {kind: {"pending": 0, "failed": 0} for kind in KINDS}
    try:
        entry = apps.get_model("indexes", "Entry")
    except LookupError:
        return counts
    rows = (
        entry.objects.filter(embedding_state__in=["pending", "failed"])
        .values("kind", "embedding_state")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        counts.setdefault(row["kind"], {"pending": 0, "failed": 0})[row["embedding_state"]] = row["n"]
    return counts


def queues_overview() -> dict[str, Any]:
    """Broker depths (None when Redis is down), oldest waiting message, corpus backlog, rate."""
    try:
        depths, oldest = control.queue_depths_and_oldest()
        broker_error = ""
    except ServiceUnavailable as exc:
        depths, oldest, broker_error = dict.fromkeys(control.BROKER_QUEUES), None, exc.message
    return {
        "broker": depths,
        "oldest_seconds": round(oldest, 1) if oldest is not None else None,
        "corpus": corpus_counts(),
        "rate_per_minute": rate_per_minute(),
        "broker_error": broker_error,
    }


def worker_visible(*, hostname: str) -> dict[str, Any] | None:
    """What the cards show of a worker: a beat that changes none of it pushes nothing."""
    return WorkerHeartbeat.objects.filter(hostname=hostname).values(*VISIBLE, "rate_per_minute").first()
