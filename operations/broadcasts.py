"""Publish what changed to every connected dashboard, after commit; group names live only here.

Services say *what* changed (a job, a card). Turning that into HTML belongs to the layer that knows
templates, which registers its renderer here (`renderer_set`, from OperationsConfig.ready), so the job
engine loads and runs without the template layer, and a process without a renderer publishes nothing.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections, transaction

from chlops.redis_clients import redis_client

logger = logging.getLogger(__name__)

OPS_GROUP = "ops"  # the Operations page's group; every other page has its own (page_group)
SEQ_KEY = "chlops:ops:seq"
OPERATIONS = "operations"


def page_group(page: str) -> str:
    """The group of the sockets showing `page`: a page subscribes only to what its cards show."""
    return OPS_GROUP if page == OPERATIONS else f"{OPS_GROUP}.{page}"


def _seq_key(page: str) -> str:
    # One sequence per page, so that a page sees no gap for the messages only other pages get.
    return SEQ_KEY if page == OPERATIONS else f"{SEQ_KEY}:{page}"


@dataclass(frozen=True)
class Change:
    """Something a dashboard shows changed: a job (`key` is its id) or a card (`key` is its name)."""

    kind: str
    key: int | str
    progress_only: bool = False


@dataclass(frozen=True)
class Rendered:
    """A change as HTML for viewers and for users who may act, and the page that shows it.

    A job's change also names the job and carries its detail apart (`detail`, `detail_run`): a job's
    own page is sent only that, and the Operations page never is (see OpsConsumer.ops_fragment).
    """

    html: str
    html_run: str
    page: str = OPERATIONS
    job: int | None = None
    detail: str = ""
    detail_run: str = ""


# Render a change, or None when there is nothing to show (a pair of HTML is the Operations page's).
Renderer = Callable[[Change], "Rendered | tuple[str, str] | None"]
_renderer: list[Renderer] = []


def renderer_set(renderer: Renderer) -> None:
    _renderer[:] = [renderer]


def job_changed(job_id: int, *, progress_only: bool = False) -> None:
    """After commit, push the job's row and detail, and the latest-runs card unless only progress moved.

    The push is rendered and sent by the process's publisher thread, so neither a request nor the
    work waits for it; see Publisher for the order it keeps.
    """
    transaction.on_commit(lambda: _publisher.submit(Change("job", job_id, progress_only=progress_only)))


def card_changed(name: str) -> None:
    """After commit, push a registered dashboard card (see operations.cards) to every dashboard."""
    transaction.on_commit(lambda: _publisher.submit(Change("card", name)))


def publish_flush(timeout: float = 5.0) -> bool:
    """Wait until every change submitted so far was pushed; False if that took longer than `timeout`."""
    return _publisher.flush(timeout)


class Publisher:
    """One daemon thread per process that renders each change once and sends it to the group.

    Changes wait in the order they came, one entry per job or card: a change to something already
    waiting joins its entry (a full change absorbs a progress-only one), because the rendering reads
    the row as it is when rendered. One thread renders and sends, so a push rendered earlier is sent
    earlier; every change is rendered after it was submitted, so the last state, a terminal one
    included, is always pushed.
    """

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a forked worker child starts its own thread
        atexit.register(self.flush, EXIT_FLUSH_SECONDS)  # a command that starts a job exits after its push

    def _reset(self) -> None:
        self.pending: dict[tuple[str, int | str], Change] = {}  # insertion-ordered: the order of arrival
        self.busy = False
        self.changed = threading.Condition()
        self.thread: threading.Thread | None = None

    def submit(self, change: Change) -> None:
        if not _renderer:
            return
        with self.changed:
            key = (change.kind, change.key)
            waiting = self.pending.get(key)
            if waiting is None or (waiting.progress_only and not change.progress_only):
                self.pending[key] = change  # replacing a value keeps the entry's place
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="ops-publisher", daemon=True)
                self.thread.start()
            self.changed.notify_all()

    def flush(self, timeout: float) -> bool:
        with self.changed:
            if self.thread is None or not self.thread.is_alive():
                return not self.pending
            return self.changed.wait_for(lambda: not self.pending and not self.busy, timeout)

    def _run(self) -> None:
        # The channel layer keeps a Redis pool per event loop: one loop for the thread's life reuses it.
        _sending.loop = asyncio.new_event_loop()
        while True:
            with self.changed:
                if not self.pending:
                    close_old_connections()  # idle: let the database connection go as Django's settings say
                self.changed.wait_for(lambda: self.pending)
                change = self.pending.pop(next(iter(self.pending)))
                self.busy = True
            try:
                _publish(change)
            finally:
                with self.changed:
                    self.busy = False
                    self.changed.notify_all()


def _publish(change: Change) -> None:
    try:
        # Once per event, not per client: one rendering for viewers, one with the run controls.
        rendered = _renderer[0](change)
    except Exception:  # noqa: BLE001 — a failed render must not stop the pushes that follow
        logger.exception("%s %s could not be rendered for a live update", change.kind, change.key)
        return
    if isinstance(rendered, tuple):
        rendered = Rendered(*rendered)
    if rendered is not None:
        job = (
            {"job": rendered.job, "detail": rendered.detail, "detail_run": rendered.detail_run} if rendered.job else {}
        )
        publish(rendered.html, html_run=rendered.html_run, page=rendered.page, **job)


EXIT_FLUSH_SECONDS = 5.0
_sending = threading.local()
_publisher = Publisher()


def ascii_html(html: str) -> str:
    """The same HTML in ASCII: characters outside it become character references (no script or style
    element is ever pushed, where a reference would not be read as the character)."""
    return html if html.isascii() else html.encode("ascii", "xmlcharrefreplace").decode("ascii")


def next_seq(page: str = OPERATIONS) -> int:
    return int(redis_client().incr(_seq_key(page)))


def current_seq(page: str = OPERATIONS) -> int:
    """The sequence number of the latest message sent to a page, for its snapshot to carry."""
    return int(redis_client().get(_seq_key(page)) or 0)


def publish(html: str, *, html_run: str | None = None, page: str = OPERATIONS, **job: object) -> None:
    """Send rendered HTML to the sockets showing `page`; live updates are best effort and never fail the caller.

    `html_run` is the same fragment with the run/cancel/retry controls, for users allowed to use them;
    `job`, `detail` and `detail_run` (see Rendered) are for the job's own page. The HTML is sent as
    ASCII, other characters as character references: every socket's server encodes the text again,
    which for ASCII is a copy.
    """
    event = {"type": "ops.fragment", "html": ascii_html(html), "html_run": ascii_html(html_run or html)}
    event.update({name: ascii_html(value) if isinstance(value, str) else value for name, value in job.items()})
    try:
        event["seq"] = next_seq(page)
        layer, loop = get_channel_layer(), getattr(_sending, "loop", None)
        if loop is None:
            async_to_sync(layer.group_send)(page_group(page), event)
        else:
            loop.run_until_complete(layer.group_send(page_group(page), event))
    except Exception:  # noqa: BLE001 — Redis down: the dashboards fall back to polling
        logger.warning("live update not sent: the channel layer is unavailable", exc_info=settings.DEBUG)
