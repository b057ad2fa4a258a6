"""Django's cache as the Cache card and /api/monitoring/cache show it."""

from __future__ import annotations

from typing import Any

import redis
from django.core.cache import caches

from monitoring.collectors.cache import InstrumentedRedisCache
from monitoring.metrics import reading, series
from monitoring.metrics.ranges import UNAVAILABLE, MetricsUnavailable

TOP = 10
NOT_REDIS = "The cache is not in Redis ({backend}), so its memory and evictions are not known."
SHARED = "Redis's memory as a whole: the cache shares it with Celery's broker, the channel layer and the metrics."


def cache_overview() -> dict[str, Any]:
    """Hits, misses and their ratio since counting began, the top prefixes by hits, memory and evictions."""
    try:
        counted = reading.counters()
    except redis.RedisError:
        raise MetricsUnavailable(UNAVAILABLE) from None
    backend = caches["default"]
    hits = {value: n for (name, value), n in counted.items() if name == series.CACHE_HITS.name}
    misses = {value: n for (name, value), n in counted.items() if name == series.CACHE_MISSES.name}
    total_hits, total_misses = sum(hits.values()), sum(misses.values())
    reads = total_hits + total_misses
    prefixes = sorted(set(hits) | set(misses), key=lambda p: (-hits.get(p, 0), p))[:TOP]
    return {
        "backend": type(backend).__name__,
        "hits": total_hits,
        "misses": total_misses,
        "hit_ratio": round(total_hits / reads, 4) if reads else None,
        "top_keys": [
            {
                "prefix": prefix,
                "hits": hits.get(prefix, 0),
                "misses": misses.get(prefix, 0),
                "hit_ratio": round(hits.get(prefix, 0) / (hits.get(prefix, 0) + misses.get(prefix, 0)), 4),
            }
            for prefix in prefixes
        ],
        "redis": redis_memory(),
    }


def cleared_sentence(removed: int | None) -> str:
    if removed is None:
        return "The cache was cleared."
    return f"The cache was cleared: {removed} key{'' if removed == 1 else 's'} removed; the broker's and the channel layer's keys were left alone."


def redis_memory() -> dict[str, Any]:
    """Used memory, its limit and evictions from Redis INFO, when the cache is in Redis."""
    backend = caches["default"]
    if not isinstance(backend, InstrumentedRedisCache):
        return {"available": False, "note": NOT_REDIS.format(backend=type(backend).__name__)}
    try:
        memory, stats, server = (backend.redis().info(section) for section in ("memory", "stats", "server"))
    except redis.RedisError:
        return {"available": False, "note": "Redis is not answering, so its memory and evictions are not known."}
    evicted, uptime = int(stats.get("evicted_keys", 0)), int(server.get("uptime_in_seconds", 0))
    return {
        "available": True,
        "note": SHARED,
        "used_memory_bytes": int(memory.get("used_memory", 0)),
        "maxmemory_bytes": int(memory.get("maxmemory", 0)) or None,
        "maxmemory_policy": memory.get("maxmemory_policy", ""),
        "evicted_keys": evicted,
        "evictions_per_hour": round(evicted * 3600 / uptime, 2) if uptime else None,
    }
