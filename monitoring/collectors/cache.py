"""Django's Redis cache, counting hits and misses per key prefix, and cleared by its own keys only.

The configured backend (settings.CACHES) is this subclass of Django's RedisCache, so nothing else
changes. A read adds to the recorder's in-memory counters; the flusher sends them. The cache shares
its Redis (and its db) with Celery's broker and the channel layer, so clear() never runs FLUSHDB: it
removes the keys Django's make_key writes (`<KEY_PREFIX>:<version>:<key>`) and nothing else.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache

from monitoring.metrics import RECORDER, series

PREFIXES_MAX = 50  # distinct prefixes a process counts apart; the rest are "other"
PREFIX_LENGTH = 40
SCAN_BATCH = 1000
_MISSING = object()
_seen: set[str] = set()
_seen_lock = threading.Lock()


def prefix_of(key: str) -> str:
    """A key's prefix: what comes before its first ':' or '.', from a set bounded per process."""
    head = str(key)
    for mark in (":", "."):
        head = head.split(mark, 1)[0]
    head = head[:PREFIX_LENGTH] or series.OTHER
    if head in _seen:
        return head
    with _seen_lock:
        if len(_seen) < PREFIXES_MAX:
            _seen.add(head)
            return head
    return series.OTHER


class InstrumentedRedisCache(RedisCache):
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        value = super().get(key, _MISSING, version=version)
        if value is _MISSING:
            RECORDER.count(series.CACHE_MISSES, prefix_of(key))
            return default
        RECORDER.count(series.CACHE_HITS, prefix_of(key))
        return value

    def get_many(self, keys: Any, version: int | None = None) -> dict:
        keys = list(keys)
        found = super().get_many(keys, version=version)
        hits: dict[str, int] = {}  # one count per prefix, not per key (a lock each)
        misses: dict[str, int] = {}
        for key in keys:
            tally, prefix = hits if key in found else misses, prefix_of(key)
            tally[prefix] = tally.get(prefix, 0) + 1
        for counter, tally in ((series.CACHE_HITS, hits), (series.CACHE_MISSES, misses)):
            for prefix, n in tally.items():
                RECORDER.count(counter, prefix, n)
        return found

    def own_pattern(self) -> str:
        """The SCAN pattern of this cache's keys (a version is digits; checked again in own_keys)."""
        return f"{_glob_escape(self.key_prefix)}:[0-9]*:*"

    def own_keys(self, client: Any) -> Any:
        for raw in client.scan_iter(match=self.own_pattern(), count=SCAN_BATCH):
            rest = raw.decode("utf-8", "replace")[len(self.key_prefix) + 1 :]
            if rest.split(":", 1)[0].isdigit():
                yield raw

    def clear(self) -> int:
        """Remove this cache's keys, and only them; return how many were removed."""
        client = self._cache.get_client(write=True)
        removed, batch = 0, []
        for key in self.own_keys(client):
            batch.append(key)
            if len(batch) >= SCAN_BATCH:
                removed += client.unlink(*batch)
                batch = []
        if batch:
            removed += client.unlink(*batch)
        return removed

    def redis(self) -> Any:
        return self._cache.get_client()


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
