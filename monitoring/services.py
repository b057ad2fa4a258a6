"""Record worker heartbeats, declare silent workers offline, and tell the dashboards."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import redis
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from chlops.exceptions import ChlopsError, ServiceUnavailable
from chlops.redis_clients import redis_client
from monitoring import selectors
from monitoring.collectors.cache import InstrumentedRedisCache
from monitoring.models import WorkerHeartbeat, WorkerState
from operations import broadcasts
from operations import services as job_services
from operations import workers as control
from operations.models import Job, JobState

WORK_QUEUES = ("jobs", "embed")
OFFLINE_KEEP = timedelta(days=1)
DEPTHS_KEY = "chlops:monitoring:queue-depths"
WORKERS_CARD = "workers-card"
QUEUES_CARD = "queues-card"


def heartbeat_record(
    *,
    hostname: str,
    kind: str,
    gpu: bool,
    queues: list[str],
    configured_queues: list[str],
    processed: int,
    failed: int,
    rate_per_minute: float,
    load: float | None,
    memory_bytes: int | None,
    version: str,
    pid: int,
    up_since: datetime,
) -> WorkerHeartbeat:
    """Upsert the worker's row; push the workers card when something visible changed."""
    configured_work = [q for q in configured_queues if q in WORK_QUEUES]
    paused = bool(configured_work) and not any(q in queues for q in configured_work)
    active = [
        {"id": pk, "type": type}
        for pk, type in Job.objects.filter(worker=hostname, state__in=[JobState.RUNNING, JobState.CANCELLING])
        .order_by("pk")
        .values_list("pk", "type")
    ]
    values: dict[str, Any] = {
        "kind": kind,
        "gpu": gpu,
        "queues": queues,
        "configured_queues": configured_queues,
        "state": WorkerState.PAUSED if paused else WorkerState.ONLINE,
        "active": active,
        "processed": processed,
        "failed": failed,
        "rate_per_minute": rate_per_minute,
        "load": load,
        "memory_bytes": memory_bytes,
        "version": version[:64],
        "pid": pid,
        "up_since": up_since,
        "last_seen": timezone.now(),
    }
    with transaction.atomic():
        before = selectors.worker_visible(hostname=hostname)
        row, _ = WorkerHeartbeat.objects.update_or_create(hostname=hostname, defaults=values)
    if before is None or any(before[name] != values[name] for name in selectors.VISIBLE):
        broadcasts.card_changed(WORKERS_CARD)
    if before is None or before["processed"] != processed or before["rate_per_minute"] != rate_per_minute:
        broadcasts.card_changed(QUEUES_CARD)
    return row


def heartbeat_offline(*, hostname: str) -> None:
    """Mark a worker offline at once: it is shutting down cleanly."""
    if (
        WorkerHeartbeat.objects.filter(hostname=hostname)
        .exclude(state=WorkerState.OFFLINE)
        .update(state=WorkerState.OFFLINE)
    ):
        broadcasts.card_changed(WORKERS_CARD)


def workers_mark_offline() -> list[str]:
    """Declare workers silent for CHLOPS_WORKER_OFFLINE_SECONDS offline and fail their running jobs."""
    now = timezone.now()
    cutoff = selectors.offline_cutoff(now)
    silent = WorkerHeartbeat.objects.filter(last_seen__lt=cutoff).exclude(state=WorkerState.OFFLINE)
    lost = [
        hostname
        for hostname in silent.values_list("hostname", flat=True)
        if WorkerHeartbeat.objects.filter(hostname=hostname, last_seen__lt=cutoff)
        .exclude(state=WorkerState.OFFLINE)
        .update(state=WorkerState.OFFLINE)
    ]
    # Also catch jobs a worker claimed just before it went silent (after an earlier sweep).
    gone = set(lost) | set(
        WorkerHeartbeat.objects.filter(state=WorkerState.OFFLINE)
        .filter(hostname__in=Job.objects.filter(state=JobState.RUNNING).values("worker"))
        .values_list("hostname", flat=True)
    )
    for hostname in sorted(gone):
        job_services.jobs_fail_for_lost_worker(worker=hostname)
    WorkerHeartbeat.objects.filter(state=WorkerState.OFFLINE, last_seen__lt=now - OFFLINE_KEEP).delete()
    if lost:
        broadcasts.card_changed(WORKERS_CARD)
    return lost


def workers_changed(action: str, replied: list[str]) -> None:
    """After a pause or resume: show what the workers answered at once (their beats confirm it)."""
    for row in WorkerHeartbeat.objects.filter(hostname__in=replied).exclude(state=WorkerState.OFFLINE):
        if action == "pause":
            row.queues = [q for q in row.queues if q not in WORK_QUEUES]
            row.state = WorkerState.PAUSED if any(q in WORK_QUEUES for q in row.configured_queues) else row.state
        else:
            row.queues = sorted(set(row.queues) | set(row.configured_queues))
            row.state = WorkerState.ONLINE
        row.save(update_fields=["queues", "state"])
    broadcasts.card_changed(WORKERS_CARD)
    broadcasts.card_changed(QUEUES_CARD)


def queues_depth_check() -> bool:
    """Push the queues card when broker depths changed since any worker last looked (one GETSET)."""
    seen = json.dumps(control.queue_depths(), sort_keys=True)
    if redis_client().getset(DEPTHS_KEY, seen) == seen.encode():
        return False
    broadcasts.card_changed(QUEUES_CARD)
    return True


CACHE_CARD = "cache-card"


def cache_clear(*, actor: Any, source: str) -> int | None:
    """Remove the Django cache's keys, never the broker's or the channel layer's; audit how many went."""
    backend = caches["default"]
    if isinstance(backend, RedisCache) and not isinstance(backend, InstrumentedRedisCache):
        raise ChlopsError(
            "The configured cache is Django's own RedisCache, whose clear() empties the whole Redis database "
            "(the broker's queues too): configure monitoring.collectors.cache.InstrumentedRedisCache to clear it here."
        )
    try:
        removed = backend.clear()
    except redis.RedisError:
        raise ServiceUnavailable("Redis is not answering, so the cache was not cleared; try again when it is back.") from None
    audit_record(
        action="cache.clear", actor=actor, source=source, target="cache:default",
        details={"removed": removed, "backend": type(backend).__name__},
    )  # fmt: skip
    broadcasts.card_changed(CACHE_CARD)
    return removed
