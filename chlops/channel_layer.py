"""The channel layer: channels-redis with a bounded pool and timeouts that suit its blocking pop.

channels-redis waits for messages with a blocking pop of `brpop_timeout` (5 s) seconds. A socket
read timeout at or below it makes every idle wait fail, which killed idle websockets (daphne
closed them with 1011), so the layer refuses such a configuration. Its connections come from
the one Redis client factory: a bounded pool that makes a burst of connects or disconnects wait
for a free connection instead of failing with "Too many connections".
"""

from __future__ import annotations

from typing import Any

from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer
from django.core.exceptions import ImproperlyConfigured

from chlops.redis_clients import redis_async_pool


class RedisChannelLayer(BaseRedisChannelLayer):
    def __init__(self, hosts: list[dict[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(hosts=hosts, **kwargs)
        for host in self.hosts:
            timeout = host.get("socket_timeout")
            if timeout is not None and timeout <= self.brpop_timeout:
                raise ImproperlyConfigured(
                    f"The channel layer's socket_timeout ({timeout} s) must be longer than its blocking pop "
                    f"({self.brpop_timeout} s), or every idle websocket fails; raise it in CHANNEL_LAYERS."
                )

    def create_pool(self, index: int):
        host = dict(self.hosts[index])
        return redis_async_pool(host.pop("address"), **host)
