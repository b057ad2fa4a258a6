"""Hot reload across processes: Redis holds the served version and carries "index.reloaded" events.

Every web and worker process meets in Redis (DESIGN §2). After a swap the writer sets VERSION_KEY and
publishes on EVENTS_CHANNEL; a reader does one GET per search and reloads when the number moved. When
Redis cannot be reached the reader falls back to the `current` link on disk, and stops trying Redis
for a few seconds so a search never waits on a dead socket twice in a row.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from django.conf import settings

from chlops.redis_clients import redis_client

logger = logging.getLogger(__name__)

VERSION_KEY = "chlops:index:version"
EVENTS_CHANNEL = "chlops:index:events"
LATENCY_KEY = "chlops:search:latency"
BACKOFF_SECONDS = 5.0

T = TypeVar("T")
_down_until = 0.0


def redis_call(call: Callable[[redis.Redis], T]) -> T | None:
    """Run `call` on Redis, or return None while Redis is unreachable (best effort, never raises)."""
    global _down_until
    if time.monotonic() < _down_until:
        return None
    try:
        return call(redis_client(timeout=0.5))
    except redis.RedisError:
        _down_until = time.monotonic() + BACKOFF_SECONDS
        logger.warning("Redis unreachable; index version read from disk for %.0f s", BACKOFF_SECONDS)
        return None


def published_version() -> int | None:
    value = redis_call(lambda r: r.get(VERSION_KEY))
    return int(value) if value else None


def reloaded_broadcast(*, manifest: dict[str, Any]) -> None:
    """Tell every process that `manifest`'s version is now served."""
    event = json.dumps({"event": "index.reloaded", "version": manifest["version"], "vectors": manifest.get("vectors")})

    def send(r: redis.Redis) -> None:
        with r.pipeline() as pipe:
            pipe.set(VERSION_KEY, manifest["version"])
            pipe.publish(EVENTS_CHANNEL, event)
            pipe.execute()

    redis_call(send)


def latency_record(*, took_ms: float, mode: str) -> None:
    """Keep the latest search latencies in a capped Redis list, for the monitoring issue."""
    entry = json.dumps({"at": round(time.time(), 3), "ms": round(took_ms, 3), "mode": mode})
    keep = settings.CHLOPS_SEARCH_LATENCY_KEEP

    def push(r: redis.Redis) -> None:
        with r.pipeline(transaction=False) as pipe:
            pipe.lpush(LATENCY_KEY, entry)
            pipe.ltrim(LATENCY_KEY, 0, keep - 1)
            pipe.execute()

    redis_call(push)


def latencies_recent(*, limit: int = 1000) -> list[dict[str, Any]]:
    """The latest recorded search latencies, newest first."""
    raw = redis_call(lambda r: r.lrange(LATENCY_KEY, 0, limit - 1)) or []
    return [json.loads(item) for item in raw]
