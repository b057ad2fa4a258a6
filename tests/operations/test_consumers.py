from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from websockets.asyncio.client import connect

from audit.models import AuditLog
from chlops.asgi import application
from chlops.redis_clients import redis_client
from chlops.stack import daphne_command
from operations import broadcasts, consumers, fragments
from operations.models import Job, JobState
from tests.conftest import Process, free_port, receive_containing, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "http://localhost"


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def open_socket(cookie: str | None = None, *, origin: str = ORIGIN, path: str = "/ws/ops/?view=dashboard"):
    headers = [(b"origin", origin.encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    return communicator, connected


def seq_of(message: str) -> int:
    return int(re.match(r'<div id="ops-seq" data-seq="(\d+)"', message).group(1))


def refused(cookie: str | None, **kwargs) -> bool:
    async def scenario() -> bool:
        communicator, connected = await open_socket(cookie, **kwargs)
        await communicator.disconnect()
        return not connected

    return async_to_sync(scenario)()


class ConnectTests:
    def test_anonymous_is_refused_before_accept(self):
        assert refused(None)

    def test_a_foreign_origin_is_refused_before_accept(self, operator):
        assert refused(session_cookie(operator), origin="https://evil.example")

    def test_staff_without_permission_are_refused_and_audited(self, plain_staff):
        assert refused(session_cookie(plain_staff))
        row = AuditLog.objects.get(action="permission.denied")
        assert (row.actor, row.outcome, row.target) == (plain_staff, "denied", "/ws/ops/")
        assert row.details["channel"] == "websocket"

    def test_operator_receives_a_snapshot_of_every_card_with_the_current_seq(self, operator):
        running = Job.objects.create(type="canary", state=JobState.RUNNING, done=1, total=4)
        broadcasts.next_seq()
        current = broadcasts.current_seq()

        cookie = session_cookie(operator)

        async def scenario() -> str:
            communicator, connected = await open_socket(cookie)
            assert connected
            message = await communicator.receive_from(timeout=10)
            await communicator.disconnect()
            return message

        snapshot = async_to_sync(scenario)()
        # Other tests' workers push cards too, so the sequence may have moved on while the socket opened;
        # the snapshot must carry the sequence of its own moment, never an older one.
        assert current <= seq_of(snapshot) <= broadcasts.current_seq()
        assert snapshot.startswith('<div id="ops-seq" data-seq=') and 'data-snapshot="true"' in snapshot.split("\n")[0]
        assert '<div id="jobs-table"' in snapshot and '<section id="latest-runs"' in snapshot
        assert f'<tr id="job-{running.pk}"' in snapshot and "ops-cancel" in snapshot

    def test_auditor_snapshot_has_no_controls(self, auditor):
        Job.objects.create(type="canary", state=JobState.RUNNING)

        cookie = session_cookie(auditor)

        async def scenario() -> str:
            communicator, connected = await open_socket(cookie)
            assert connected
            message = await communicator.receive_from(timeout=10)
            await communicator.disconnect()
            return message

        snapshot = async_to_sync(scenario)()
        assert 'id="jobs-table"' in snapshot and "ops-cancel" not in snapshot

    def test_a_job_page_snapshot_holds_that_jobs_detail(self, operator):
        job = Job.objects.create(type="canary", state=JobState.FAILED, error="boom")

        cookie = session_cookie(operator)

        async def scenario() -> str:
            communicator, _ = await open_socket(cookie, path=f"/ws/ops/?job={job.pk}")
            message = await communicator.receive_from(timeout=10)
            await communicator.disconnect()
            return message

        snapshot = async_to_sync(scenario)()
        assert f'<div id="job-{job.pk}-detail"' in snapshot and "boom" in snapshot and 'id="jobs-table"' not in snapshot


async def receive_answer(socket, attempts: int = 20) -> dict:
    """The next JSON answer to this client, passing over the fragments other processes push meanwhile."""
    for _ in range(attempts):
        message = await socket.receive_from(timeout=10)
        if not message.startswith('<div id="ops-seq"'):
            return json.loads(message)
    raise AssertionError("no JSON answer arrived")


class BroadcastTests:
    def test_a_job_change_arrives_as_a_fragment_with_the_next_seq(self, operator, auditor):
        cookies = [session_cookie(operator), session_cookie(auditor)]

        async def scenario() -> tuple[str, str, str, str, str, Job]:
            job = await sync_to_async(Job.objects.create)(type="canary", state=JobState.RUNNING, done=3, total=10)
            other = await sync_to_async(Job.objects.create)(type="canary", state=JobState.QUEUED)
            paths = [
                "/ws/ops/?view=dashboard",
                "/ws/ops/?view=dashboard",
                f"/ws/ops/?job={job.pk}",
                f"/ws/ops/?job={other.pk}",
            ]
            sockets = [(await open_socket(c, path=p))[0] for c, p in zip(cookies + cookies, paths, strict=True)]
            snapshots = [await s.receive_from(timeout=10) for s in sockets]
            await sync_to_async(broadcasts.job_changed)(job.pk)
            pushed = [await receive_containing(s, f'<tr id="job-{job.pk}"') for s in sockets[:2]]
            detail = await receive_containing(sockets[2], f'<div id="job-{job.pk}-detail"')
            # The other job's page gets the push's number only, so that it sees no gap.
            elsewhere = await receive_containing(sockets[3], lambda message: seq_of(message) == seq_of(detail))
            # A card's push (an alert banner, say) reaches a job's page whole: the frame's cards are on it.
            await sync_to_async(broadcasts.publish)('<div id="frame-probe"></div>')
            await receive_containing(sockets[2], '<div id="frame-probe"></div>')
            for s in sockets:
                await s.disconnect()
            return snapshots[0], pushed[0], pushed[1], detail, elsewhere, job

        snapshot, for_operator, for_auditor, detail, elsewhere, job = async_to_sync(scenario)()
        # Other processes of the test run push cards too (workers, embedding), so the sequence may jump.
        assert seq_of(for_operator) == seq_of(for_auditor) == seq_of(detail) > seq_of(snapshot)
        assert f'<tr id="job-{job.pk}"' in for_operator and 'hx-swap-oob="true"' in for_operator
        assert '<progress max="100" value="30.0"' in for_operator
        assert '<section id="latest-runs"' in for_operator and f'id="job-{job.pk}-detail"' not in for_operator
        assert "ops-cancel" in for_operator and "ops-cancel" not in for_auditor
        # A job's own page is sent its detail, not the dashboard's row and cards.
        assert f'<tr id="job-{job.pk}"' not in detail and "latest-runs" not in detail and "ops-cancel" in detail
        assert elsewhere == f'<div id="ops-seq" data-seq="{seq_of(detail)}" hx-swap-oob="true"></div>'

    def test_resync_answers_with_a_fresh_snapshot(self, operator):
        cookie = session_cookie(operator)

        async def scenario() -> str:
            communicator, _ = await open_socket(cookie)
            await communicator.receive_from(timeout=10)
            await communicator.send_to(text_data=json.dumps({"type": "resync"}))
            # Workers of other tests may push a card between the request and the answer.
            message = await receive_containing(communicator, 'data-snapshot="true"')
            await communicator.disconnect()
            return message

        assert 'data-snapshot="true"' in async_to_sync(scenario)()

    def test_a_push_made_while_a_snapshot_renders_follows_the_snapshot(self, operator, monkeypatch):
        """Pushes reach sockets straight from the channel layer's reader; one that comes while a
        snapshot is being rendered must still be sent after that snapshot, never before it."""
        cookie = session_cookie(operator)
        rendering, release = threading.Event(), threading.Event()
        render = fragments.snapshot_shared

        def held_render(**kwargs) -> str:
            html = render(**kwargs)
            rendering.set()
            assert release.wait(30), "the test never released the snapshot"
            return html

        async def scenario() -> list[str]:
            communicator, _ = await open_socket(cookie)
            await communicator.receive_from(timeout=10)
            monkeypatch.setattr(fragments, "snapshot_shared", held_render)
            await communicator.send_to(text_data=json.dumps({"type": "resync"}))
            # Other threads than the database one, which the held rendering occupies.
            assert await asyncio.to_thread(rendering.wait, 30)
            await asyncio.to_thread(broadcasts.publish, '<div id="pushed-meanwhile"></div>')
            await asyncio.sleep(0.5)  # the push has reached the consumer, which holds it
            release.set()
            received = [await communicator.receive_from(timeout=10)]
            while "pushed-meanwhile" not in received[-1]:
                received.append(await communicator.receive_from(timeout=10))
            await communicator.disconnect()
            return received

        received = async_to_sync(scenario)()
        snapshots = [m for m in received if 'data-snapshot="true"' in m]
        assert snapshots, "the push came before the snapshot it was made during"
        assert seq_of(received[-1]) > seq_of(snapshots[-1])


class BadInputTests:
    GARBAGE = [
        {"text_data": "not json at all"},
        {"bytes_data": b"\x00\xff\x10binary"},
        {"text_data": "x" * 1_000_000},
        {"text_data": json.dumps({"type": 5})},
        {"text_data": json.dumps(["resync"])},
        {"text_data": '{"type": "resync"'},
        {"text_data": json.dumps({"type": "drop_tables"})},
        {"text_data": "[" * 5000},
    ]

    def test_garbage_is_answered_with_an_error_and_the_socket_still_answers_ping(self, operator):
        cookie = session_cookie(operator)

        async def scenario() -> tuple[list[dict], dict]:
            communicator, _ = await open_socket(cookie)
            await communicator.receive_from(timeout=10)
            errors = []
            for message in self.GARBAGE:
                await communicator.send_to(**message)
                errors.append(await receive_answer(communicator))
            await communicator.send_to(text_data=json.dumps({"type": "ping"}))
            pong = await receive_answer(communicator)
            await communicator.disconnect()
            return errors, pong

        errors, pong = async_to_sync(scenario)()
        assert all(e["type"] == "error" for e in errors)
        assert (
            errors[0]["error"] == 'Message ignored. Send {"type": "resync"} for a fresh snapshot or {"type": "ping"}.'
        )
        assert pong == {"type": "pong"}


class FragmentTests:
    def test_job_fragments_hold_the_row_the_detail_and_latest_runs_for_out_of_band_swap(self, operator):
        job = Job.objects.create(type="canary", state=JobState.FAILED, requested_by=operator, error="boom")
        rendered = fragments.job_fragments_for_everyone(job)
        oob = r'<(?:tr|div|section) id="([^"]+)"[^>]*hx-swap-oob="true"'
        assert re.findall(oob, rendered.html_run) == [f"job-{job.pk}", "latest-runs"]
        assert re.findall(oob, rendered.detail_run) == [f"job-{job.pk}-detail"]
        assert rendered.job == job.pk
        assert "ops-retry" in rendered.html_run and "ops-retry" not in rendered.html
        assert "ops-retry" in rendered.detail_run and "ops-retry" not in rendered.detail


def group_members() -> set[str]:
    """The channels in the dashboards' group, read where channels-redis keeps it (a sorted set)."""
    key = f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}:group:{broadcasts.OPS_GROUP}"
    return {member.decode() for member in redis_client().zrange(key, 0, -1)}


class GroupTests:
    def test_an_open_socket_renews_its_membership_before_the_group_forgets_it(self, operator, monkeypatch):
        # A renewal every 0.2 s instead of every 6 hours (a quarter of channels-redis' one-day group_expiry).
        monkeypatch.setattr(consumers, "GROUP_RENEWALS", get_channel_layer().group_expiry / 0.2)
        key = f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}:group:{broadcasts.OPS_GROUP}"
        cookie = session_cookie(operator)

        async def scenario() -> tuple[float, float]:
            before = await sync_to_async(group_members)()
            communicator, _ = await open_socket(cookie)
            await communicator.receive_from(timeout=10)
            (channel,) = await sync_to_async(group_members)() - before
            added = await sync_to_async(redis_client().zscore)(key, channel)
            renewed = added
            for _ in range(100):  # until a renewal has moved the member's time on, or 10 s
                renewed = await sync_to_async(redis_client().zscore)(key, channel)
                if renewed > added + 1:
                    break
                await asyncio.sleep(0.1)
            await communicator.disconnect()
            return added, renewed

        added, renewed = async_to_sync(scenario)()
        assert renewed > added + 1  # the member's time was moved on while the socket stayed open

    def test_a_consumer_that_fails_leaves_its_group(self, operator):
        cookie = session_cookie(operator)

        async def scenario() -> tuple[set[str], set[str]]:
            before = await sync_to_async(group_members)()
            communicator, _ = await open_socket(cookie)
            await communicator.receive_from(timeout=10)
            joined = await sync_to_async(group_members)() - before
            # A message no handler takes makes the consumer raise: a server error, not a close.
            await get_channel_layer().send(next(iter(joined)), {"type": "no.such.handler"})
            with pytest.raises(ValueError, match="No handler for message type no.such.handler"):
                await communicator.wait(timeout=10)
            return joined, await sync_to_async(group_members)()

        joined, after = async_to_sync(scenario)()
        assert len(joined) == 1 and not joined & after

    def test_a_killed_client_leaves_its_group(self, operator, web_server):
        before = group_members()
        client = subprocess.Popen(
            [sys.executable, "-c", KILLED_CLIENT, web_server.replace("http", "ws") + "/ws/ops/", web_server, session_cookie(operator)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert client.stdout.readline().strip() == "snapshot received"
            joined = group_members() - before
            assert len(joined) == 1
            client.send_signal(signal.SIGKILL)
            client.wait(10)
            wait_for(lambda: not joined & group_members(), timeout=30, message="the killed client's channel to leave")
        finally:
            client.kill()


# A dashboard in another process: it opens the socket, says so once the snapshot came, and waits to be killed.
KILLED_CLIENT = """
import sys, time
from websockets.sync.client import connect
url, origin, cookie = sys.argv[1:]
socket = connect(url, origin=origin, additional_headers={"Cookie": cookie})
socket.recv(timeout=30)
print("snapshot received", flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module")
def runstack_daphne(stack_env, tmp_path_factory) -> Iterator[str]:
    """daphne started as `runstack` starts it (its handshake timeout included), on the test database."""
    port = free_port()
    process = Process(daphne_command("127.0.0.1", port), stack_env, tmp_path_factory.mktemp("daphne") / "daphne.log")

    def up() -> bool:
        assert process.popen.poll() is None, process.output()
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_for(up, timeout=30, interval=0.1, message="daphne to listen")
    yield f"http://127.0.0.1:{port}"
    process.stop()


class LiveSocketTests:
    """Through daphne, as browsers meet it: real sockets, the real channel layer and Redis."""

    def test_an_idle_socket_outlives_the_layers_blocking_pop_and_gets_the_next_push(self, operator, web_server):
        cookie, probe = session_cookie(operator), f"idle-probe-{uuid.uuid4().hex}"

        async def scenario() -> str:
            async with connect(
                web_server.replace("http", "ws") + "/ws/ops/", origin=web_server, additional_headers={"Cookie": cookie}
            ) as socket:
                await socket.recv()  # the snapshot
                # Three blocking pops of the channel layer (5 s each) with nothing sent to this socket.
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(socket.wait_closed(), timeout=15.5)
                await sync_to_async(broadcasts.publish)(f'<div id="{probe}"></div>')
                while probe not in (message := await asyncio.wait_for(socket.recv(), timeout=10)):
                    pass  # other processes' pushes (worker cards) pass by meanwhile
                return message

        assert probe in async_to_sync(scenario)()

    def test_five_hundred_sockets_open_and_close_in_a_burst(self, operator, runstack_daphne):
        cookie, before = session_cookie(operator), group_members()
        url, count = runstack_daphne.replace("http", "ws") + "/ws/ops/", 500

        async def dashboard():
            socket = await connect(url, origin=runstack_daphne, additional_headers={"Cookie": cookie}, open_timeout=60)
            snapshot = await asyncio.wait_for(socket.recv(), timeout=60)
            return socket, 'data-snapshot="true"' in snapshot

        async def scenario() -> tuple[list[bool], set[str], list[int | None]]:
            opened = await asyncio.gather(*(dashboard() for _ in range(count)))
            joined = await sync_to_async(group_members)() - before
            await asyncio.gather(*(socket.close() for socket, _ in opened))
            return [ok for _, ok in opened], joined, [socket.close_code for socket, _ in opened]

        snapshots, joined, codes = async_to_sync(scenario)()
        # Every socket got its snapshot (a Redis error on joining closes it first, with 1011) and closed cleanly.
        assert snapshots == [True] * count and codes == [1000] * count and len(joined) == count
        # Every consumer left the group: a Redis error on leaving would leave its channel behind.
        wait_for(lambda: not joined & group_members(), timeout=60, message="all 500 channels to leave the group")
