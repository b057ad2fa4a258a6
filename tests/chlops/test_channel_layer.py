from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
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


class ReceiveTests:
    """The layer's receive, against the real Redis of the test run."""

    def test_a_group_message_reaches_every_consumer_of_the_process_once(self):
        async def scenario() -> list[list[dict]]:
            layer = RedisChannelLayer(**settings.CHANNEL_LAYERS["default"]["CONFIG"])
            channels = [await layer.new_channel() for _ in range(50)]
            for channel in channels:
                await layer.group_add("receive-test", channel)
            got: list[list[dict]] = [[] for _ in channels]

            async def consume(n: int) -> None:
                while True:
                    got[n].append(await layer.receive(channels[n]))

            consumers = [asyncio.create_task(consume(n)) for n in range(len(channels))]
            await asyncio.sleep(0)  # every consumer is receiving before anything is sent
            for n in range(3):
                await layer.group_send("receive-test", {"type": "test.message", "n": n})
            while sum(map(len, got)) < 3 * len(channels):
                await asyncio.sleep(0.01)
            for consumer in consumers:
                consumer.cancel()
            await asyncio.gather(*consumers, return_exceptions=True)
            for channel in channels:
                await layer.group_discard("receive-test", channel)
            return got

        got = async_to_sync(scenario)()
        assert all([m["n"] for m in messages] == [0, 1, 2] for messages in got)

    def test_a_consumer_that_stopped_receiving_keeps_nothing_and_its_loop_ends(self):
        async def scenario() -> tuple[bool, dict]:
            layer = RedisChannelLayer(**settings.CHANNEL_LAYERS["default"]["CONFIG"])
            gone, alive = await layer.new_channel(), await layer.new_channel()
            receiving = [asyncio.create_task(layer.receive(channel)) for channel in (gone, alive)]
            await asyncio.sleep(0)
            receiving[0].cancel()  # what a consumer's end does to its receive
            await asyncio.gather(receiving[0], return_exceptions=True)
            await layer.send(gone, {"type": "test.message"})
            await layer.send(alive, {"type": "test.message"})
            message = await asyncio.wait_for(receiving[1], 10)
            return gone in layer.receive_buffer, message

        for _ in range(3):  # the layer's receiving task ends with each event loop, never holding it open
            kept, message = async_to_sync(scenario)()
            assert not kept and message == {"type": "test.message"}
