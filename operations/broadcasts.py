"""Push rendered fragments to every connected dashboard; group names live only here."""

from __future__ import annotations

import functools
import logging
import threading

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections, transaction

logger = logging.getLogger(__name__)

OPS_GROUP = "ops"
SEQ_KEY = "chlops:ops:seq"


def job_changed(job_id: int, *, progress_only: bool = False) -> None:
    """After commit, push the job's row and detail, and the latest-runs card unless only progress moved.

    Progress is pushed from a background thread, newest first, so that rendering never slows the
    work; state and phase changes are pushed before this returns.
    """
    if progress_only:
        transaction.on_commit(lambda: _progress_publisher.submit(job_id))
    else:
        transaction.on_commit(lambda: _publish_job(job_id, progress_only=False))


def _publish_job(job_id: int, *, progress_only: bool) -> None:
    from operations import fragments, selectors
    from operations.models import Job

    # Render and send under one lock, so a push rendered earlier can never arrive after a later one.
    with _publish_lock:
        _progress_publisher.discard(job_id)
        try:
            job = selectors.job_get(job_id=job_id)
            # Once per event, not per client: one rendering for viewers, one with the run controls.
            html, html_run = fragments.job_fragments_for_everyone(job, with_latest_runs=not progress_only)
        except Job.DoesNotExist:
            return
        except Exception:  # noqa: BLE001 — a failed render must not fail the job that changed
            logger.exception("job %s could not be rendered for a live update", job_id)
            return
        publish(html, html_run=html_run)


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
                _publish_job(job_id, progress_only=True)
            close_old_connections()


_publish_lock = threading.RLock()
_progress_publisher = ProgressPublisher()


def card_changed(name: str) -> None:
    """After commit, push a registered dashboard card (see operations.cards) to every dashboard."""
    transaction.on_commit(lambda: _publish_card(name))


def _publish_card(name: str) -> None:
    from operations import cards

    try:
        html, html_run = cards.card_render_both(cards.get(name))
    except Exception:  # noqa: BLE001 — a card that cannot render must not fail the work that changed it
        logger.exception("card %s could not be rendered for a live update", name)
        return
    publish(html, html_run=html_run)


@functools.cache
def _redis(url: str) -> redis.Redis:
    # One pooled client per URL and process: a progress tick should not pay for a new connection.
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def next_seq() -> int:
    return int(_redis(settings.REDIS_URL).incr(SEQ_KEY))


def current_seq() -> int:
    """The sequence number of the latest message sent, for a snapshot to carry."""
    return int(_redis(settings.REDIS_URL).get(SEQ_KEY) or 0)


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
