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
            RedisChannelLayer(
                hosts=[{"address": settings.REDIS_URL, "max_connections": 5, "timeout": 1, "socket_timeout": 5}]
            )


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

    def test_direct_delivery_hands_each_message_to_every_socket_before_the_next_one(self):
        """Messages of the types a consumer asked for go to its handler, one message to every handler
        before the next, in order; a handler that fails costs the others nothing; other types still
        go to the consumer's buffer."""

        async def scenario() -> tuple[list[tuple[int, int]], dict]:
            layer = RedisChannelLayer(**settings.CHANNEL_LAYERS["default"]["CONFIG"])
            channels = [await layer.new_channel() for _ in range(20)]
            delivered: list[tuple[int, int]] = []

            def handler(n: int):
                async def handle(message: dict) -> None:
                    if n == 0:
                        raise RuntimeError("this socket is broken")
                    delivered.append((message["n"], n))

                return handle

            for n, channel in enumerate(channels):
                layer.deliver_direct(channel, {"test.push"}, handler(n))
                await layer.group_add("direct-test", channel)
            other = asyncio.create_task(layer.receive(channels[1]))  # the consumer's own receive
            await asyncio.sleep(0)
            for n in range(3):
                await layer.group_send("direct-test", {"type": "test.push", "n": n})
            await layer.send(channels[1], {"type": "test.other"})
            buffered = await asyncio.wait_for(other, 10)
            while len(delivered) < 3 * (len(channels) - 1):
                await asyncio.sleep(0.01)
            for channel in channels:
                layer.deliver_direct_stop(channel)
                await layer.group_discard("direct-test", channel)
            return delivered, buffered

        delivered, buffered = async_to_sync(scenario)()
        assert [n for n, _ in delivered] == sorted(n for n, _ in delivered)  # no message overtook another
        assert sorted(delivered) == [(n, s) for n in range(3) for s in range(1, 20)]
        assert buffered == {"type": "test.other"}
