"""The 13 modules and the checks that decide each one's health, listed here where they are used.

What each state means for each module, and what to do, is written in docs/monitoring.md.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

import health_check
from django.conf import settings
from health_check import HealthCheck
from health_check.contrib.redis import Redis

from chlops.exceptions import ChlopsError
from chlops.redis_clients import redis_async_client
from monitoring.health.infrastructure import (
    BeatSending,
    CacheRoom,
    ChannelLayerRoundTrip,
    QueriesFast,
    QueueShort,
    QueuesMoving,
    RequestsAnswered,
    WorkersAnswer,
    WorkersOnline,
)
from monitoring.health.product import (
    AuditChainHolds,
    EmbeddingsMoving,
    IndexServed,
    JobsFlowing,
    RecentRuns,
    SearchAnswering,
)
from monitoring.metrics.series import CRITICAL, MODULES


@dataclass(frozen=True)
class Module:
    name: str
    title: str
    about: str  # what the module is, in a sentence, for its card and detail page
    checks: Callable[[], tuple[HealthCheck, ...]]  # built afresh for each round: checks keep no state
    slow_ms: float | None = None  # healthy but answering slower than this is degraded
    degraded: str = ""  # what degraded means for it (docs/monitoring.md says the same)
    down: str = ""
    todo: str = ""  # what to do when it is not healthy

    @property
    def critical(self) -> bool:
        return self.name in CRITICAL


def _redis_checks() -> tuple[HealthCheck, ...]:
    return (Redis(client_factory=lambda: redis_async_client(timeout=2.0)), QueuesMoving())


def _database_checks() -> tuple[HealthCheck, ...]:
    from health_check.contrib.psutil import Disk  # psutil loads where checks run, not in every web process

    return (health_check.Database(), Disk(path=settings.DATA_DIR, max_disk_usage_percent=95.0), QueriesFast())


ALL = (
    Module(
        "web",
        "Web",
        "daphne answering pages, the API and the websocket.",
        lambda: (RequestsAnswered(),),
        degraded="More than 5 % of the requests of the last 5 minutes failed with a server error, or p95 response time is above 1 s.",
        down="Half or more of the requests of the last 5 minutes failed with a server error.",
        todo="Open the failing requests' module below and the web process's log; a 5xx names its cause there.",
    ),
    Module(
        "database",
        "Database",
        "The database every process reads and writes, and the disk of the data dir.",
        _database_checks,
        slow_ms=500,
        degraded="SELECT 1 took longer than 500 ms, the data dir's disk is 95 % full, a tenth of the last 5 minutes' queries "
        "were slower than CHLOPS_SLOW_QUERY_MS, or PostgreSQL's connections are 90 % used.",
        down="The database does not answer SELECT 1.",
        todo="Check that PostgreSQL runs (or that the SQLite file in the data dir is readable), and free disk space; "
        "for slow queries, open the Database card's slow query log.",
    ),
    Module(
        "broker",
        "Broker",
        "Redis carrying Celery's queues.",
        _redis_checks,
        slow_ms=500,
        degraded="Redis answers slowly (over 500 ms), or a message has waited in a queue for 10 minutes.",
        down="Redis does not answer a ping, or its queues cannot be read: no job can start.",
        todo="Start Redis (or check REDIS_URL); for old messages, start or resume workers.",
    ),
    Module(
        "event_bus",
        "Event bus",
        "The channel layer that carries live updates to every open page.",
        lambda: (ChannelLayerRoundTrip(),),
        slow_ms=500,
        degraded="A message takes longer than 500 ms to come back over the channel layer.",
        down="A message sent over the channel layer does not come back: pages fall back to polling every 10 s.",
        todo="Check Redis; the pages reconnect by themselves when it answers.",
    ),
    Module(
        "cache",
        "Cache",
        "Django's cache in Redis.",
        lambda: (health_check.Cache(timeout=datetime.timedelta(seconds=2)), CacheRoom()),
        slow_ms=500,
        degraded="Setting and reading a cache key takes longer than 500 ms, or Redis uses 95 % of its maxmemory.",
        down="A key set in the cache cannot be read back.",
        todo="Check Redis and its memory (maxmemory).",
    ),
    Module(
        "workers",
        "Workers",
        "The Celery workers that run jobs, embeddings and these checks.",
        lambda: (WorkersOnline(), WorkersAnswer(), QueueShort()),
        degraded="Every worker is paused, no worker consumes one of the queues, or more than 100 messages wait in the queues.",
        down="No worker beats or answers a ping: no job, embedding or health check runs.",
        todo="Start a worker (`celery -A chlops worker -Q jobs,embed,control`), or resume the paused ones.",
    ),
    Module(
        "scheduler",
        "Scheduler",
        "celery beat, which starts the schedules and these checks every 10 s.",
        lambda: (BeatSending(),),
        degraded="beat has sent no task for 20 s.",
        down="beat has sent no task for a minute: schedules and health rounds have stopped.",
        todo="Start beat (`celery -A chlops beat`, or `python manage.py runstack`).",
    ),
    Module(
        "jobs",
        "Jobs",
        "The job engine: queued, running and finished jobs.",
        lambda: (JobsFlowing(), RecentRuns(module="jobs")),
        degraded="A running job went silent, a job waited 10 minutes in the queue, or the latest canary, export or drain failed.",
        down="The last three canary, export or drain jobs failed.",
        todo="Open the job named in the message: its history says what happened.",
    ),
    Module(
        "ingestion",
        "Ingestion",
        "Imports and repository ingestion.",
        lambda: (RecentRuns(module="ingestion"),),
        degraded="The latest import or ingest job of the last 24 hours failed.",
        down="The last three import or ingest jobs failed.",
        todo="Open the failed job: its error names the file, row or repository to fix.",
    ),
    Module(
        "embeddings",
        "Embeddings",
        "The embedder and the entries waiting to be embedded.",
        lambda: (EmbeddingsMoving(), RecentRuns(module="embeddings")),
        degraded="Entries failed to embed, a fifth of the recent batches failed, or the backlog has not moved for 10 minutes.",
        down="The configured embedder is unknown, half the recent batches failed, or the last three embed jobs failed.",
        todo="Retry failed entries from the embedding card; check that a worker consumes the embed queue.",
    ),
    Module(
        "index",
        "Index",
        "The served FAISS index: readable, matching the embedder, fresh, and its recall.",
        lambda: (IndexServed(), RecentRuns(module="index")),
        degraded="An index file cannot be read, recall is below target, entries embedded 30 minutes ago are not in it, or the latest reindex failed.",
        down="No index is served, or it was built with another embedder: dense search fails.",
        todo="Run reindex (or restore a snapshot); fix the file's permissions if one cannot be read.",
    ),
    Module(
        "search",
        "Search",
        "Dense, sparse and hybrid search.",
        lambda: (SearchAnswering(),),
        degraded="More than 5 % of the searches of the last 5 minutes failed, or p95 search time is above 500 ms.",
        down="Half or more of the searches of the last 5 minutes failed.",
        todo="Look at the index module first: most failing searches have no index to search.",
    ),
    Module(
        "audit",
        "Audit",
        "The append-only, hash-chained audit log.",
        lambda: (AuditChainHolds(),),
        degraded="Never: the chain holds or it does not.",
        down="A row of the audit chain does not hold: one was changed or deleted outside `audit prune`.",
        todo="Run `python manage.py audit verify`; restore the database from a backup taken before the row named.",
    ),
)
BY_NAME = {module.name: module for module in ALL}


class UnknownModule(ChlopsError):
    status = 404


def module_get(name: str) -> Module:
    """The module called `name`, or UnknownModule naming the 13."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise UnknownModule(f"There is no module {name!r}; the modules are: {', '.join(MODULES)}.") from None
