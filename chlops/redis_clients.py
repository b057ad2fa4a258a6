"""The one Redis client factory: a pooled client per URL and timeout, shared by the whole process."""

from __future__ import annotations

import functools

import redis
from django.conf import settings


def redis_client(*, timeout: float = 1.0) -> redis.Redis:
    """Return the process's client for settings.REDIS_URL; `timeout` bounds connect and each call."""
    return _client(settings.REDIS_URL, timeout)


@functools.cache
def _client(url: str, timeout: float) -> redis.Redis:
    # Cached per URL too: tests and the embedded default change REDIS_URL, and a tick must not
    # pay for a new connection.
    return redis.Redis.from_url(url, socket_connect_timeout=min(timeout, 2.0), socket_timeout=timeout)
