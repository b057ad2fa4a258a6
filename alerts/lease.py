"""A Redis lease: one holder in the cluster at a time; when it stops renewing, another takes over.

SET NX PX takes a free lease; the holder renews it (a compare-and-expire script) before it lapses. A
holder that dies stops renewing, so the key expires after `ttl` seconds and the next process asking
gets it: takeover within the TTL plus one interval of the others' loop.
"""

from __future__ import annotations

import os
import socket
import uuid

import redis

from chlops.redis_clients import redis_client

RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    def __init__(self, key: str, *, ttl: float, owner: str | None = None) -> None:
        self.key = key
        self.ttl_ms = int(ttl * 1000)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def hold(self) -> bool:
        """Take the lease or renew it; False when another process holds it or Redis does not answer."""
        try:
            client = redis_client(timeout=0.5)
            if client.eval(RENEW, 1, self.key, self.owner, self.ttl_ms):
                return True
            return bool(client.set(self.key, self.owner, nx=True, px=self.ttl_ms))
        except redis.RedisError:
            return False

    def release(self) -> None:
        try:
            redis_client(timeout=0.5).eval(RELEASE, 1, self.key, self.owner)
        except redis.RedisError:
            pass  # it lapses by itself

    def holder(self) -> str | None:
        value = redis_client(timeout=0.5).get(self.key)
        return value.decode() if value else None
