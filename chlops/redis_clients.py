"""The one Redis client factory: a pooled client per URL and timeout, shared by the whole process,
and the bounded pools of the channel layer's asyncio clients."""

from __future__ import annotations

import functools
from typing import Any

import redis
import redis.asyncio
from django.conf import settings


def redis_client(*, timeout: float = 1.0) -> redis.Redis:
    """Return the process's client for settings.REDIS_URL; `timeout` bounds connect and each call."""
    return _client(settings.REDIS_URL, timeout)


@functools.cache
def _client(url: str, timeout: float) -> redis.Redis:
    # Cached per URL too: tests and the embedded default change REDIS_URL, and a tick must not
    # pay for a new connection.
    return redis.Redis.from_url(url, socket_connect_timeout=min(timeout, 2.0), socket_timeout=timeout)


def redis_async_client(*, timeout: float = 1.0) -> redis.asyncio.Redis:
    """A fresh asyncio client for settings.REDIS_URL that owns its connections: close it with aclose()."""
    return redis.asyncio.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=min(timeout, 2.0), socket_timeout=timeout)


def redis_async_pool(url: str, *, max_connections: int, timeout: float, **options: Any) -> redis.asyncio.ConnectionPool:
    """A bounded asyncio pool for `url`: at most `max_connections`, a caller waits up to `timeout` s for one."""
    return redis.asyncio.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=timeout, **options)
