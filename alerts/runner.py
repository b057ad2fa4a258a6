"""The evaluator's home: a thread in each Celery worker process, evaluating once a second under a lease.

Why a worker thread: every deployment runs at least one worker (health rounds need one), a thread
ticks every second where beat's smallest practical interval would add a task, a queue hop and a
database scheduler round trip per second, and the lease makes the many workers of a cluster evaluate
as one. The metrics it reads are flushed by every process once a second (monitoring.metrics), so a
breach reaches the banners within about two seconds at worst, one on average.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from alerts.evaluator import evaluate_pass
from alerts.lease import Lease

logger = logging.getLogger(__name__)

LEASE_KEY = "chlops:alerts:evaluator"
INTERVAL = 1.0
LEASE_TTL = 3.0  # seconds a dead holder keeps the lease: another worker takes over within this


class Evaluator:
    def __init__(self, *, interval: float = INTERVAL, ttl: float = LEASE_TTL) -> None:
        self.interval = interval
        self.lease = Lease(LEASE_KEY, ttl=ttl)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="chlops-alerts", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.lease.release()

    def _loop(self) -> None:
        while not self.stopped.is_set():
            started = time.monotonic()
            self.tick()
            self.stopped.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def tick(self) -> None:
        if not self.lease.hold():
            return
        try:
            close_old_connections()
            for change in evaluate_pass():
                logger.info("alert %s", change)
        except Exception:  # noqa: BLE001 — the evaluator must outlive any one bad second (Redis or the database away)
            logger.exception("alert evaluation failed; trying again in a second")


_running: list[Evaluator] = []


def on_worker_ready(sender: Any = None, **_: Any) -> None:
    if sender is None or _running or not settings.CHLOPS_ALERTS_EVALUATOR:
        return
    evaluator = Evaluator()
    _running.append(evaluator)
    evaluator.start()


def on_worker_shutdown(**_: Any) -> None:
    while _running:
        _running.pop().stop()
