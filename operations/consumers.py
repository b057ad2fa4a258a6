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
GROUP_RENEWALS = 4  # times per group_expiry that an open socket renews its membership
PUSH_TYPES = frozenset({"ops.fragment"})  # what the channel layer hands straight to `push`
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
    the snapshot), none per push, so hundreds of sockets open and take pushes at once.

    Pushes come straight from the channel layer's reader (`deliver_direct`), which hands one message
    to every socket of the process before it reads the next, instead of waking each consumer's task:
    the next message never delays the last sockets of the one before. While a snapshot is being
    rendered and sent, pushes wait in `held` and follow it in order.
    """

    async def __call__(self, scope, receive, send) -> None:
        self.joined: set[str] = set()
        self.accepted = False
        self.held: list[dict[str, Any]] | None = None
        try:
            await super().__call__(scope, receive, send)
        finally:
            # However the consumer ends (the client closed, vanished, or the server failed or cancelled
            # it), it leaves its groups: a dead channel left in one is sent every broadcast for a day.
            await asyncio.shield(self.groups_leave())

    async def groups_leave(self) -> None:
        if (renewal := getattr(self, "renewal", None)) is not None:
            renewal.cancel()
        if (stop := getattr(self.channel_layer, "deliver_direct_stop", None)) is not None:
            stop(self.channel_name)
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
        self.held = []  # what is pushed before the snapshot is sent follows it
        if (direct := getattr(self.channel_layer, "deliver_direct", None)) is not None:
            direct(self.channel_name, PUSH_TYPES, self.push)
        await self.channel_layer.group_add(group, self.channel_name)
        snapshot = await database_sync_to_async(self._admit)()
        if snapshot is None:
            self.held = None
            await self.groups_leave()
            await self.close()  # before accept: the handshake is refused
            return
        await self.accept()
        self.accepted = True
        self.renewal = asyncio.create_task(self.groups_renew())
        await self.send_then_held(snapshot)

    async def groups_renew(self) -> None:
        """Stay in the groups for as long as the socket is open: channels-redis forgets a member once its
        group_expiry (a day) has passed since it was added, so a page open longer would stop getting pushes."""
        every = getattr(self.channel_layer, "group_expiry", 86400) / GROUP_RENEWALS
        while True:
            await asyncio.sleep(every)
            for group in list(self.joined):
                try:
                    await self.channel_layer.group_add(group, self.channel_name)
                except Exception:  # noqa: BLE001 — Redis down: the next renewal tries again
                    logger.warning("could not renew the membership of group %s", group, exc_info=True)

    async def push(self, event: dict[str, Any]) -> None:
        """A push from the channel layer's reader: sent now, or after the snapshot being made."""
        if self.held is not None:
            self.held.append(event)
        else:
            await self.ops_fragment(event)

    async def send_then_held(self, snapshot: str) -> None:
        await self.send(text_data=snapshot)
        while self.held:
            await self.ops_fragment(self.held.pop(0))
        self.held = None  # no await since the list was found empty: nothing can slip in between

    def _admit(self) -> str | None:
        """The snapshot for an allowed user (who may watch, who may act, what they filter), else None."""
        allowed, self.can_run = socket_access(self.scope, cards.page_perm(self.page))
        if not allowed:
            return None
        self.filters = fragments.JobFilters.from_query(self.query)
        job = self.query.get("job", "")  # a job's own page: the Operations page's sockets, one job's pushes
        self.job_id = int(job) if job.isdigit() and self.page == broadcasts.OPERATIONS else None
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
        self.held = []
        html = await database_sync_to_async(self._render_snapshot)()
        await self.send_then_held(html)

    def _render_snapshot(self) -> str:
        return fragments.snapshot_shared(can_run=self.can_run, filters=self.filters, job_id=self.job_id, page=self.page)

    async def ops_fragment(self, event: dict[str, Any]) -> None:
        if not self.accepted:
            return  # a push that came while the handshake was being refused
        await self.send(text_data=fragments.seq_marker(event["seq"]) + self.part(event))

    def part(self, event: dict[str, Any]) -> str:
        """What of a push this page shows: a card's push goes to every page of its group (the frame's
        cards, alert banners say, are on all of them); of a job's push the Operations page gets the
        row and the latest runs, the job's own page its detail, and another job's page just the
        sequence number, which keeps the page's count of messages whole."""
        run = "_run" if self.can_run else ""
        if self.job_id is None or event.get("job") is None:
            return event.get(f"html{run}") or event.get("html", "")
        if event.get("job") == self.job_id:
            return event.get(f"detail{run}") or event.get("detail", "")
        return ""
