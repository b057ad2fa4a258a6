"""Health checks of what the product runs on: the web tier, the database, Redis, workers and beat.

Each is a django-health-check v4 check (a small dataclass whose run() raises ServiceWarning for
degraded and ServiceUnavailable for down), with a timeout; django-health-check's own checks are used
where they already probe the thing well (Database, Cache, Redis, Celery's Ping).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import time
import uuid

import celery
import redis
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.conf import settings
from health_check import HealthCheck
from health_check.contrib.celery import Ping
from health_check.exceptions import ServiceUnavailable, ServiceWarning
from kombu.exceptions import KombuError

from chlops.celery import app as celery_app
from chlops.exceptions import ServiceUnavailable as ChlopsUnavailable
from monitoring import selectors
from monitoring.health import beat
from monitoring.metrics import reading, series
from monitoring.metrics.sketch import bin_value
from monitoring.models import WorkerState
from monitoring.status import cache as cache_status
from monitoring.status import database
from monitoring.status import workers as worker_status
from operations import workers as control

WINDOW = 300  # seconds of recent traffic a rate is read over


def rate_verdict(point: reading.Point, *, what: str, minimum: int, degraded: float, down: float) -> None:
    """Raise when too many of the last minutes' `what` failed (and there were enough of them to say)."""
    if point.count < minimum or not point.errors:
        return
    rate = point.errors / point.count
    sentence = f"{point.errors} of the last {point.count} {what} failed ({rate:.0%}) in the last {WINDOW // 60} minutes"
    if rate >= down:
        raise ServiceUnavailable(f"{sentence}; see the module's recent errors and the logs.")
    if rate >= degraded:
        raise ServiceWarning(f"{sentence}, above {degraded:.0%}.")


def latency_verdict(point: reading.Point, *, what: str, minimum: int, p95_seconds: float) -> None:
    p95 = point.sketch.quantile(0.95)
    if point.count >= minimum and p95 is not None and p95 > p95_seconds:
        raise ServiceWarning(
            f"{what.capitalize()} took {p95 * 1000:.0f} ms at p95 over the last {WINDOW // 60} minutes, "
            f"above {p95_seconds * 1000:.0f} ms."
        )


@dataclasses.dataclass
class RequestsAnswered(HealthCheck):
    """Requests of the last five minutes: server errors (5xx) and p95 response time."""

    minimum: int = dataclasses.field(default=20, repr=False)
    degraded: float = dataclasses.field(default=0.05, repr=False)
    down: float = dataclasses.field(default=0.5, repr=False)
    p95_seconds: float = dataclasses.field(default=1.0, repr=False)

    def run(self) -> None:
        try:
            point = reading.recent("http", [series.ALL], seconds=WINDOW)
        except redis.RedisError:
            raise ServiceWarning("The request metrics cannot be read: Redis is not answering.") from None
        rate_verdict(point, what="requests", minimum=self.minimum, degraded=self.degraded, down=self.down)
        latency_verdict(point, what="requests", minimum=self.minimum, p95_seconds=self.p95_seconds)


@dataclasses.dataclass
class QueuesMoving(HealthCheck):
    """The broker's queues can be read and no message has waited in them for ten minutes."""

    timeout = datetime.timedelta(seconds=3)
    waited_seconds: float = dataclasses.field(default=600, repr=False)

    def run(self) -> None:
        try:
            depths, oldest = control.queue_depths_and_oldest()
        except ChlopsUnavailable as exc:
            raise ServiceUnavailable(exc.message) from None
        if oldest is not None and oldest > self.waited_seconds:
            waiting = ", ".join(f"{name} {depth}" for name, depth in depths.items() if depth)
            raise ServiceWarning(
                f"A message has waited {oldest / 60:.0f} minutes in the queues ({waiting}): "
                "the workers are not keeping up, or none consumes that queue."
            )


@dataclasses.dataclass
class ChannelLayerRoundTrip(HealthCheck):
    """A message sent on the channel layer (the live updates' bus) comes back."""

    timeout = datetime.timedelta(seconds=3)

    async def run(self) -> None:
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)  # its own pools, closed below
        channel = f"chlops-health.{uuid.uuid4().hex}"
        try:
            await layer.send(channel, {"type": "health.ping"})
            await asyncio.wait_for(layer.receive(channel), self.timeout.total_seconds())
        except TimeoutError:
            raise ServiceUnavailable(
                f"A message sent on the channel layer did not come back within {self.timeout.total_seconds():g} s: "
                "live updates are not delivered (the pages poll every 10 s)."
            ) from None
        except (redis.RedisError, OSError):
            raise ServiceUnavailable(
                "The channel layer cannot reach Redis: live updates are not delivered (the pages poll every 10 s)."
            ) from None
        finally:
            await layer.close_pools()


@dataclasses.dataclass
class WorkersOnline(HealthCheck):
    """At least one worker beats; all of them paused is degraded."""

    def run(self) -> None:
        rows = [row for row in selectors.worker_list() if row.state != WorkerState.OFFLINE]
        if not rows:
            raise ServiceUnavailable(
                "No worker is running, so no job, embedding or health check runs. Start one with "
                "`celery -A chlops worker -Q jobs,embed,control` (or `python manage.py runstack`)."
            )
        if all(row.state == WorkerState.PAUSED for row in rows):
            raise ServiceWarning("Every worker is paused, so no job starts: resume them on the Operations page.")


@dataclasses.dataclass
class WorkersAnswer(Ping):
    """The workers answer a ping through the broker and consume the jobs queue."""

    app: celery.Celery = dataclasses.field(default_factory=lambda: celery_app, repr=False)
    timeout: datetime.timedelta = dataclasses.field(default=datetime.timedelta(seconds=2), repr=False)

    def run(self) -> None:
        self.limit = len(selectors.worker_hostnames_live()) or None  # return as soon as they all answered
        try:
            super().run()
        except KombuError:
            raise ServiceUnavailable("The broker is not answering, so no worker can be pinged.") from None
        except ServiceUnavailable as exc:
            if exc.message == "IOError":
                raise ServiceUnavailable("The broker is not answering, so no worker can be pinged.") from None
            if exc.message != "Celery workers unavailable":
                raise
            raise ServiceUnavailable(
                f"No worker answered a ping through the broker within {self.timeout.total_seconds():g} s: "
                "they are gone, or too busy to read their control queue."
            ) from None

    def check_active_queues(self, *active_workers) -> None:
        try:
            super().check_active_queues(*active_workers)
        except ServiceUnavailable as exc:
            # Paused workers stop consuming on purpose: a warning, not an outage.
            raise ServiceWarning(f"{exc.message}: the workers are paused, or none was started with it.") from None


@dataclasses.dataclass
class BeatSending(HealthCheck):
    """celery beat sent a task lately (it sends one every few seconds)."""

    degraded_after: float = dataclasses.field(default=20, repr=False)
    down_after: float = dataclasses.field(default=60, repr=False)

    def run(self) -> None:
        try:
            sent = beat.beat_last_sent()
        except redis.RedisError:
            raise ServiceWarning("When beat last sent a task cannot be read: Redis is not answering.") from None
        hint = "start it with `celery -A chlops beat` (or `python manage.py runstack`)"
        if sent is None:
            raise ServiceUnavailable(f"celery beat has sent no task since Redis started; {hint}.")
        age = time.time() - sent
        if age > self.down_after:
            raise ServiceUnavailable(f"celery beat has sent no task for {age:.0f} s, so no schedule runs; {hint}.")
        if age > self.degraded_after:
            raise ServiceWarning(f"celery beat has sent no task for {age:.0f} s; it sends one every few seconds.")


@dataclasses.dataclass
class QueriesFast(HealthCheck):
    """Queries of the last five minutes: the share slower than CHLOPS_SLOW_QUERY_MS; PostgreSQL's connections."""

    minimum: int = dataclasses.field(default=50, repr=False)
    slow_share: float = dataclasses.field(default=0.1, repr=False)
    utilization: float = dataclasses.field(default=90.0, repr=False)

    def run(self) -> None:
        try:
            point = reading.recent(series.QUERY.name, settings.DATABASES, seconds=WINDOW)
        except redis.RedisError:
            raise ServiceWarning("The query metrics cannot be read: Redis is not answering.") from None
        threshold = settings.CHLOPS_SLOW_QUERY_MS / 1000
        slow = sum(n for index, n in point.sketch.bins.items() if bin_value(index) >= threshold)
        if point.count >= self.minimum and slow / point.count >= self.slow_share:
            raise ServiceWarning(
                f"{slow} of the last {point.count} queries took longer than {settings.CHLOPS_SLOW_QUERY_MS:g} ms "
                f"({slow / point.count:.0%}) in the last {WINDOW // 60} minutes; the slow query log names them."
            )
        pool = database.pool_status()
        if pool["pooled"] and (pool["utilization_percent"] or 0) >= self.utilization:
            raise ServiceWarning(
                f"{pool['connections']} of PostgreSQL's {pool['max_connections']} connections are in use "
                f"({pool['utilization_percent']:g} %): new connections will soon be refused."
            )


@dataclasses.dataclass
class CacheRoom(HealthCheck):
    """Redis has room for the cache: under 95 % of its maxmemory, when one is set."""

    full: float = dataclasses.field(default=0.95, repr=False)

    def run(self) -> None:
        memory = cache_status.redis_memory()
        used, most = memory.get("used_memory_bytes"), memory.get("maxmemory_bytes")
        if used and most and used >= self.full * most:
            raise ServiceWarning(
                f"Redis uses {used / most:.0%} of its maxmemory ({most // 2**20} MB): it evicts keys "
                f"({memory['evicted_keys']} so far) under the {memory['maxmemory_policy']} policy."
            )


@dataclasses.dataclass
class QueueShort(HealthCheck):
    """The broker's queues together hold fewer messages than the alert threshold."""

    def run(self) -> None:
        try:
            length = sum(control.queue_depths().values())
        except ChlopsUnavailable as exc:
            raise ServiceUnavailable(exc.message) from None
        if length > worker_status.QUEUE_ALERT_THRESHOLD:
            raise ServiceWarning(
                f"{length} messages wait in the queues, more than {worker_status.QUEUE_ALERT_THRESHOLD}: "
                "the workers are not keeping up; start another or check that none is paused."
            )
