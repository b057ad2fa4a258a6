"""Publish what changed to every connected dashboard, after commit; group names live only here.

Services say *what* changed (a job, a card). Turning that into HTML belongs to the layer that knows
templates, which registers its renderer here (`renderer_set`, from OperationsConfig.ready), so the job
engine loads and runs without the template layer, and a process without a renderer publishes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections, transaction

from chlops.redis_clients import redis_client

logger = logging.getLogger(__name__)

OPS_GROUP = "ops"
SEQ_KEY = "chlops:ops:seq"


@dataclass(frozen=True)
class Change:
    """Something a dashboard shows changed: a job (`key` is its id) or a card (`key` is its name)."""

    kind: str
    key: int | str
    progress_only: bool = False


# Render a change for viewers and for users who may act, or None when there is nothing to show.
Renderer = Callable[[Change], "tuple[str, str] | None"]
_renderer: list[Renderer] = []


def renderer_set(renderer: Renderer) -> None:
    _renderer[:] = [renderer]


def job_changed(job_id: int, *, progress_only: bool = False) -> None:
    """After commit, push the job's row and detail, and the latest-runs card unless only progress moved.

    Progress is pushed from a background thread, newest first, so that rendering never slows the
    work; state and phase changes are pushed before this returns.
    """
    if progress_only:
        transaction.on_commit(lambda: _progress_publisher.submit(job_id))
    else:
        transaction.on_commit(lambda: _publish(Change("job", job_id)))


def card_changed(name: str) -> None:
    """After commit, push a registered dashboard card (see operations.cards) to every dashboard."""
    transaction.on_commit(lambda: _publish(Change("card", name)))


def _publish(change: Change) -> None:
    if not _renderer:
        return
    # Render and send under one lock, so a push rendered earlier can never arrive after a later one.
    with _publish_lock:
        if change.kind == "job":
            _progress_publisher.discard(change.key)
        try:
            # Once per event, not per client: one rendering for viewers, one with the run controls.
            rendered = _renderer[0](change)
        except Exception:  # noqa: BLE001 — a failed render must not fail the work that changed
            logger.exception("%s %s could not be rendered for a live update", change.kind, change.key)
            return
        if rendered is not None:
            publish(rendered[0], html_run=rendered[1])


class ProgressPublisher:
    """One daemon thread per process that pushes the latest progress of each job, coalesced."""

    def __init__(self) -> None:
        self.pending: set[int] = set()
        self.lock = threading.Lock()
        self.wakeup = threading.Event()
        self.thread: threading.Thread | None = None

    def submit(self, job_id: int) -> None:
        with self.lock:
            self.pending.add(job_id)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="progress-publisher", daemon=True)
                self.thread.start()
        self.wakeup.set()

    def discard(self, job_id: int) -> None:
        with self.lock:
            self.pending.discard(job_id)

    def _run(self) -> None:
        while True:
            self.wakeup.wait()
            self.wakeup.clear()
            with self.lock:
                batch, self.pending = self.pending, set()
            for job_id in batch:
                _publish(Change("job", job_id, progress_only=True))
            close_old_connections()


_publish_lock = threading.RLock()
_progress_publisher = ProgressPublisher()


def next_seq() -> int:
    return int(redis_client().incr(SEQ_KEY))


def current_seq() -> int:
    """The sequence number of the latest message sent, for a snapshot to carry."""
    return int(redis_client().get(SEQ_KEY) or 0)


def publish(html: str, *, html_run: str | None = None) -> None:
    """Send rendered HTML to the group; live updates are best effort and never fail the caller.

    `html_run` is the same fragment with the run/cancel/retry controls, for users allowed to use them.
    """
    event = {"type": "ops.fragment", "html": html, "html_run": html_run or html}
    try:
        event["seq"] = next_seq()
        async_to_sync(get_channel_layer().group_send)(OPS_GROUP, event)
    except Exception:  # noqa: BLE001 — Redis down: the dashboards fall back to polling
        logger.warning("live update not sent: the channel layer is unavailable", exc_info=settings.DEBUG)
