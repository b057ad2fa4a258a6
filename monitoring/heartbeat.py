"""Inside a worker: beat every few seconds into WorkerHeartbeat, and count the tasks it finishes.

A thread started on `worker_ready` (not Celery's optional event stream) does the beating, so a
long task in a solo pool or a slow database write never stalls the consumer. Counts come from
`task_postrun`, which fires in whichever process ran the task (a prefork child included), and are
summed in a Redis hash per worker, so the parent reads one total for all its children.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import threading
import time
from collections import deque
from typing import Any

import celery
import redis
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

import chlops
from chlops.redis_clients import redis_client
from monitoring import services
from operations import services as job_services
from operations.models import Job, JobState

logger = logging.getLogger(__name__)

COUNTS_KEY = "chlops:worker-counts:{hostname}"


def gpu_available() -> bool:
    """Cheap: look for the NVIDIA driver, without importing a GPU framework."""
    return bool(shutil.which("nvidia-smi")) or os.path.exists("/dev/nvidia0")


class Beater:
    """The heartbeat of one worker process."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.hostname: str = consumer.hostname
        self.configured = sorted(consumer.app.amqp.queues.consume_from or {})
        self.up_since = timezone.now()
        self.gpu = gpu_available()
        self.samples: deque[tuple[float, int]] = deque()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="chlops-heartbeat", daemon=True)

    def start(self) -> None:
        redis_client().delete(COUNTS_KEY.format(hostname=self.hostname))
        # A fresh process under this name cannot be running the jobs an earlier one left behind.
        job_services.jobs_fail_for_lost_worker(worker=self.hostname)
        connection.close()  # the pool forks from this process later: leave it no open connection to share
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)
        try:
            services.heartbeat_offline(hostname=self.hostname)
        finally:
            connection.close()

    def _loop(self) -> None:
        while True:
            try:
                self.beat()
            except Exception:  # noqa: BLE001 — a failed beat (database busy, Redis away) must not end the beating
                logger.warning("heartbeat of %s not recorded", self.hostname, exc_info=True)
                close_old_connections()
            if self.stopped.wait(settings.CHLOPS_WORKER_HEARTBEAT_SECONDS):
                connection.close()
                return

    def beat(self) -> None:
        processed, failed = self.counts()
        services.heartbeat_record(
            hostname=self.hostname,
            kind=settings.CHLOPS_WORKER_KIND,
            gpu=self.gpu,
            queues=self.queues(),
            configured_queues=self.configured,
            processed=processed,
            failed=failed,
            rate_per_minute=self.rate(processed),
            load=os.getloadavg()[0],
            memory_bytes=memory_bytes(),
            version=version(),
            pid=os.getpid(),
            up_since=self.up_since,
        )
        services.queues_depth_check()

    def queues(self) -> list[str]:
        task_consumer = getattr(self.consumer, "task_consumer", None)
        if task_consumer is None:
            return []
        return sorted({q.name for q in task_consumer.queues})

    def counts(self) -> tuple[int, int]:
        raw = redis_client().hgetall(COUNTS_KEY.format(hostname=self.hostname))
        return int(raw.get(b"processed", 0)), int(raw.get(b"failed", 0))

    def rate(self, processed: int) -> float:
        now = time.monotonic()
        self.samples.append((now, processed))
        while len(self.samples) > 2 and now - self.samples[0][0] > 60:
            self.samples.popleft()
        then, before = self.samples[0]
        return round((processed - before) * 60 / (now - then), 1) if now - then >= 1 else 0.0


def memory_bytes() -> int | None:
    """Resident memory of the worker and its pool processes."""
    import psutil  # only workers measure themselves: the web process need not load it

    try:
        me = psutil.Process()
        return me.memory_info().rss + sum(_rss(child) for child in me.children(recursive=True))
    except psutil.Error:
        return None


def _rss(process: Any) -> int:
    import psutil

    try:
        return process.memory_info().rss
    except psutil.Error:
        return 0


@functools.cache
def version() -> str:
    return f"chlops {getattr(chlops, '__version__', 'dev')} · celery {celery.__version__}"


# --- Signal receivers, connected in MonitoringConfig.ready() -----------------------------

_beater: list[Beater] = []


def enabled() -> bool:
    return settings.CHLOPS_WORKER_HEARTBEAT_SECONDS > 0  # 0 turns heartbeats off (the cost benchmark)


def on_worker_ready(sender: Any = None, **_: Any) -> None:
    if sender is None or _beater or not enabled():
        return
    beater = Beater(sender)
    _beater.append(beater)
    beater.start()


def on_worker_shutdown(**_: Any) -> None:
    while _beater:
        _beater.pop().stop()


def on_task_postrun(sender: Any = None, task: Any = None, args: Any = None, state: str | None = None, **_: Any) -> None:
    """Count a finished task; a job counts as failed when its row says so (the runner catches errors)."""
    hostname = getattr(getattr(task, "request", None), "hostname", None)
    if not hostname or not enabled():
        return
    delivery = getattr(task.request, "delivery_info", None) or {}
    if delivery.get("routing_key") == "control" and task.name != "operations.tasks.run_job":
        return  # housekeeping (the reaper, offline checks) is not work processed
    failed = state != "SUCCESS"
    if not failed and getattr(task, "name", "") == "operations.tasks.run_job" and args:
        failed = Job.objects.filter(pk=args[0], state=JobState.FAILED, worker=hostname).exists()
    try:
        pipe = redis_client().pipeline()
        pipe.hincrby(COUNTS_KEY.format(hostname=hostname), "processed", 1)
        if failed:
            pipe.hincrby(COUNTS_KEY.format(hostname=hostname), "failed", 1)
        pipe.execute()
    except redis.RedisError:
        logger.warning("task count of %s not recorded: Redis is not answering", hostname)
