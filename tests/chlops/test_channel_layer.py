from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from chlops.channel_layer import RedisChannelLayer


class ChannelLayerTests:
    def test_the_configured_reads_outlast_the_blocking_pop_from_a_bounded_pool(self):
        (host,) = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
        assert host["socket_timeout"] > RedisChannelLayer.brpop_timeout
        assert host["max_connections"] >= 1 and host["timeout"] > 0

    def test_a_read_timeout_within_the_blocking_pop_is_refused_with_the_fix(self):
        with pytest.raises(ImproperlyConfigured, match=r"socket_timeout \(5 s\) must be longer than its blocking pop"):
            RedisChannelLayer(hosts=[{"address": settings.REDIS_URL, "max_connections": 5, "timeout": 1, "socket_timeout": 5}])
