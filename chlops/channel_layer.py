"""The channel layer: channels-redis with a bounded pool, reads that outlast its blocking pop, and a
receive whose cost per consumer does not grow with the number of consumers.

- channels-redis waits for messages with a blocking pop of `brpop_timeout` (5 s). A socket read
  timeout at or below it makes every idle wait fail, which killed idle websockets (daphne closed
  them with 1011), so such a configuration is refused.
- Its connections come from the one Redis client factory: a bounded pool, so that a burst of
  sockets opening or closing waits for a free connection instead of failing with "Too many
  connections".
- Receiving on process-local channels (every consumer's): channels-redis makes all the waiting
  consumers of a process contend for one asyncio.Lock, whose acquire scans every waiter, so one
  group message to n sockets cost O(n²) (39 ms at 500 sockets, 4 ms at 100, on two cores). Here one
  task per event loop pops the process's messages (the same `receive_single`, backup queue and all)
  and puts each in the buffers of the channels it is for; a consumer waits on its own buffer only.
- Delivering directly: a consumer may ask for messages of some types to be handed to a coroutine of
  its own (`deliver_direct`) instead of its buffer. The reader then gives one group message to every
  such consumer of the process before it reads the next, with no task switch per consumer: a push
  to n sockets is one pass, and a message that follows never delays the last sockets of the one
  before (with buffers, every consumer took both in turn).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer
from django.core.exceptions import ImproperlyConfigured

from chlops.redis_clients import redis_async_pool

logger = logging.getLogger(__name__)


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
        self._pumps: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task] = weakref.WeakKeyDictionary()
        self._receiving: set[str] = set()  # local channels whose consumer is alive (it has called receive)
        self._direct: dict[str, tuple[Collection[str], Callable[[dict[str, Any]], Awaitable[None]]]] = {}

    def deliver_direct(
        self, channel: str, types: Collection[str], handler: Callable[[dict[str, Any]], Awaitable[None]]
    ) -> None:
        """Hand this local channel's messages of these types to `handler`, awaited by the reader, in
        order; a handler must not wait for anything slow (a socket's send is a buffered write)."""
        self._direct[channel] = (types, handler)

    def deliver_direct_stop(self, channel: str) -> None:
        self._direct.pop(channel, None)

    def create_pool(self, index: int):
        host = dict(self.hosts[index])
        return redis_async_pool(host.pop("address"), **host)

    async def receive(self, channel: str) -> dict[str, Any]:
        if "!" not in channel:
            return await super().receive(channel)
        assert self.require_valid_channel_name(channel)
        self._pump_ensure(self.non_local_name(channel))
        self._receiving.add(channel)
        buffer = self.receive_buffer[channel]
        try:
            message = await buffer.get()
        except asyncio.CancelledError:
            # A consumer stops receiving only when it ends: forget its channel and what waits for it.
            self._receiving.discard(channel)
            self.receive_buffer.pop(channel, None)
            raise
        if isinstance(message, Exception):
            self._receiving.discard(channel)
            raise message
        return message

    def _pump_ensure(self, real_channel: str) -> None:
        loop = asyncio.get_running_loop()
        if (pump := self._pumps.get(loop)) is not None and not pump.done():
            return
        others = [other for other, task in self._pumps.items() if other is not loop and not task.done()]
        if others:
            raise RuntimeError("Two event loops are trying to receive() on one channel layer at once!")
        self._pumps[loop] = loop.create_task(self._pump(real_channel), name="channel-layer-pump")

    async def _pump(self, real_channel: str) -> None:
        """Pop this process's messages and hand each to the buffers of the live channels it is for.

        receive_single's steps (its per-key lock, backup queue and cleaner), with a look between two
        blocking pops: the pump stops once no consumer is left, or when it was cancelled, even if a
        cancellation was lost inside the Redis client (seen, rarely, at event loop shutdown).
        """
        index, key = self.consistent_hash(real_channel), self.prefix + real_channel
        me = asyncio.current_task()
        while self._receiving and not (me is not None and me.cancelling()):
            await self.receive_clean_locks.acquire(key)
            try:
                content = await self._brpop_with_clean(index, key, timeout=self.brpop_timeout)
            except asyncio.CancelledError:
                self.receive_clean_locks.release(key)
                raise
            except Exception as exc:  # noqa: BLE001 — Redis failed: each waiting consumer fails, as it would unpumped
                self.receive_clean_locks.release(key)
                logger.warning("the channel layer could not receive: %s", exc)
                for channel in list(self._receiving):
                    self.receive_buffer[channel].put_nowait(exc)
                return
            if content is None:  # the blocking pop timed out: nothing came
                self.receive_clean_locks.release(key)
                continue
            cleaner = asyncio.ensure_future(self._clean_receive_backup(index, key))
            self.receive_cleaners.append(cleaner)
            cleaner.add_done_callback(
                lambda done: (self.receive_cleaners.remove(done), self.receive_clean_locks.release(key))
            )
            message = self.deserialize(content)
            channels = message.pop("__asgi_channel__", None)
            for channel in channels if isinstance(channels, list) else [channels]:
                direct = self._direct.get(channel)
                if direct is not None and message.get("type") in direct[0]:
                    await self._deliver(channel, direct[1], message)
                elif channel in self._receiving:  # a consumer gone has nobody to read its buffer
                    self.receive_buffer[channel].put_nowait(message)

    @staticmethod
    async def _deliver(
        channel: str, handler: Callable[[dict[str, Any]], Awaitable[None]], message: dict[str, Any]
    ) -> None:
        try:
            await handler(message)
        except Exception:  # noqa: BLE001 — one socket's failure must not cost the others their message
            logger.warning("a message for %s could not be delivered", channel, exc_info=True)
