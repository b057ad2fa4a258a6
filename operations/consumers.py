"""The dashboard's websocket: a snapshot on connect, then the fragments that services publish."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from operations import broadcasts, cards, fragments
from operations.access import socket_access

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 1024
SNAPSHOT_MIN_INTERVAL = 0.5  # seconds; a client asking faster waits, it does not get more renders
USAGE = 'Send {"type": "resync"} for a fresh snapshot or {"type": "ping"}.'


def message_type(text_data: str | None, bytes_data: bytes | None) -> str | None:
    """Return "resync" or "ping" for a valid client message, None for anything else."""
    if bytes_data is not None or text_data is None or len(text_data) > MAX_MESSAGE_CHARS:
        return None
    try:
        message = json.loads(text_data)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("type") not in ("resync", "ping"):
        return None
    return message["type"]


class OpsConsumer(AsyncWebsocketConsumer):
    """One dashboard: two trips to the database thread to open (the session's user; then access and
    the snapshot), none per push, so hundreds of sockets open and take pushes at once."""

    async def __call__(self, scope, receive, send) -> None:
        self.joined: set[str] = set()
        self.accepted = False
        try:
            await super().__call__(scope, receive, send)
        finally:
            # However the consumer ends (the client closed, vanished, or the server failed or cancelled
            # it), it leaves its groups: a dead channel left in one is sent every broadcast for a day.
            await asyncio.shield(self.groups_leave())

    async def groups_leave(self) -> None:
        for group in list(self.joined):
            self.joined.discard(group)
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:  # noqa: BLE001 — Redis down: the membership expires with the layer's group_expiry
                logger.warning("could not leave group %s; it expires by itself", group, exc_info=True)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels checks the database connections before every handler, a trip to the database thread
        # per push and per socket; this consumer reaches the database only through
        # database_sync_to_async, which checks them itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.last_snapshot = time.monotonic()
        if not getattr(self.scope.get("user"), "is_authenticated", False):
            await self.close()  # nobody logged in: refused before touching Redis, as socket_access would
            return
        # The page's group only: a page subscribes to what its cards show (DESIGN §5).
        self.query = {k: v[-1] for k, v in parse_qs(self.scope.get("query_string", b"").decode("latin-1")).items()}
        self.page = cards.page_known(self.query.get("view"))
        group = broadcasts.page_group(self.page)
        # Joined before the snapshot reads its sequence number, so that no push falls between the two.
        # A refused socket leaves at once; it is never accepted, so nothing is ever sent to it.
        self.joined.add(group)  # before the add: leaving a group never joined is harmless
        await self.channel_layer.group_add(group, self.channel_name)
        snapshot = await database_sync_to_async(self._admit)()
        if snapshot is None:
            await self.groups_leave()
            await self.close()  # before accept: the handshake is refused
            return
        await self.accept()
        self.accepted = True
        await self.send(text_data=snapshot)

    def _admit(self) -> str | None:
        """The snapshot for an allowed user (who may watch, who may act, what they filter), else None."""
        allowed, self.can_run = socket_access(self.scope, cards.page_perm(self.page))
        if not allowed:
            return None
        self.filters = fragments.JobFilters.from_query(self.query)
        self.job_id = int(self.query["job"]) if self.query.get("job", "").isdigit() else None
        return self._render_snapshot()

    async def disconnect(self, code: int) -> None:
        await self.groups_leave()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        kind = message_type(text_data, bytes_data)
        if kind == "ping":
            await self.send(text_data=json.dumps({"type": "pong"}))
        elif kind == "resync":
            await self.send_snapshot()
        else:
            await self.send(text_data=json.dumps({"type": "error", "error": f"Message ignored. {USAGE}"}))

    async def send_snapshot(self) -> None:
        wait = self.last_snapshot + SNAPSHOT_MIN_INTERVAL - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self.last_snapshot = time.monotonic()
        html = await database_sync_to_async(self._render_snapshot)()
        await self.send(text_data=html)

    def _render_snapshot(self) -> str:
        return fragments.snapshot_shared(can_run=self.can_run, filters=self.filters, job_id=self.job_id, page=self.page)

    async def ops_fragment(self, event: dict[str, Any]) -> None:
        if not self.accepted:
            return  # a push that came while the handshake was being refused
        html = event.get("html_run") if self.can_run else event.get("html")
        await self.send(text_data=fragments.seq_marker(event["seq"]) + (html or event.get("html", "")))
