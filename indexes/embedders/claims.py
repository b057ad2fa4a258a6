"""Redis bookkeeping of the embedding pipeline: entry claims, batches in flight, embedder stats.

The database says what is pending; Redis only says who is working on it right now. Every key
expires, so a worker killed mid-batch delays its entries by CHLOPS_EMBED_CLAIM_SECONDS at most.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable

import redis
from django.conf import settings

from chlops.redis_clients import redis_client

PREFIX = "chlops:embed"
DISPATCH_LOCK = f"{PREFIX}:dispatch-lock"
IN_FLIGHT = f"{PREFIX}:in-flight"  # sorted set: batch id -> deadline
CARD_DIRTY = f"{PREFIX}:card-dirty"


def client() -> redis.Redis:
    return redis_client(timeout=5)


def _key(entry_id: int) -> str:
    return f"{PREFIX}:claim:{entry_id}"


def entries_claim(*, ids: Iterable[int], owner: str) -> list[int]:
    """Claim entries for one batch; return those nobody else holds."""
    ids = list(ids)
    if not ids:
        return []
    pipe = client().pipeline(transaction=False)
    for entry_id in ids:
        pipe.set(_key(entry_id), owner, nx=True, ex=settings.CHLOPS_EMBED_CLAIM_SECONDS)
    return [entry_id for entry_id, won in zip(ids, pipe.execute(), strict=True) if won]


def entries_release(*, ids: Iterable[int]) -> None:
    keys = [_key(entry_id) for entry_id in ids]
    if keys:
        client().delete(*keys)


def entries_unclaimed(*, ids: list[int]) -> list[int]:
    if not ids:
        return []
    held = client().mget([_key(entry_id) for entry_id in ids])
    return [entry_id for entry_id, owner in zip(ids, held, strict=True) if owner is None]


def batches_in_flight() -> int:
    """Count batches sent and not finished, forgetting those past their deadline (lost workers)."""
    r = client()
    r.zremrangebyscore(IN_FLIGHT, "-inf", time.time())
    return int(r.zcard(IN_FLIGHT))


def batch_sent(*, batch_id: str) -> None:
    client().zadd(IN_FLIGHT, {batch_id: time.time() + settings.CHLOPS_EMBED_CLAIM_SECONDS})


def batch_finished(*, batch_id: str) -> None:
    client().zrem(IN_FLIGHT, batch_id)


def dispatch_lock():
    """A lock that one dispatcher holds at a time, across processes and hosts."""
    return client().lock(DISPATCH_LOCK, timeout=60, blocking=False)


def stats_publish(stats: dict) -> None:
    """Publish this process's embedder stats, so that the card and monitoring see the workers' numbers."""
    key = f"{PREFIX}:stats:{socket.gethostname()}:{os.getpid()}"
    client().set(key, json.dumps({**stats, "process": f"{socket.gethostname()}:{os.getpid()}"}), ex=600)


def stats_all() -> list[dict]:
    """Stats of every process that embedded something in the last ten minutes."""
    r = client()
    keys = sorted(r.scan_iter(match=f"{PREFIX}:stats:*", count=100))
    return [json.loads(raw) for raw in r.mget(keys) if raw] if keys else []


def card_dirty_mark() -> None:
    client().set(CARD_DIRTY, "1", ex=60)


def card_dirty_take() -> bool:
    return bool(client().delete(CARD_DIRTY))
