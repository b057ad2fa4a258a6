"""The dashboard's websocket: a snapshot on connect, then the fragments that services publish."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from operations import broadcasts, fragments
from operations.access import socket_access

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
    async def connect(self) -> None:
        self.joined = False
        self.last_snapshot = 0.0
        allowed, self.can_run = await database_sync_to_async(socket_access)(self.scope)
        if not allowed:
            await self.close()  # before accept: the handshake is refused
            return
        query = {k: v[-1] for k, v in parse_qs(self.scope.get("query_string", b"").decode("latin-1")).items()}
        self.filters = fragments.JobFilters.from_query(query)
        self.job_id = int(query["job"]) if query.get("job", "").isdigit() else None
        await self.channel_layer.group_add(broadcasts.OPS_GROUP, self.channel_name)
        self.joined = True
        await self.accept()
        await self.send_snapshot()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "joined", False):
            await self.channel_layer.group_discard(broadcasts.OPS_GROUP, self.channel_name)

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
        # The sequence number is read before rendering, so the snapshot holds everything up to it.
        return fragments.snapshot(
            seq=broadcasts.current_seq(), can_run=self.can_run, filters=self.filters, job_id=self.job_id
        )

    async def ops_fragment(self, event: dict[str, Any]) -> None:
        html = event.get("html_run") if self.can_run else event.get("html")
        await self.send(text_data=fragments.seq_marker(event["seq"]) + (html or event.get("html", "")))
