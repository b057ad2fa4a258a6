from __future__ import annotations

import json
import re

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from audit.models import AuditLog
from chlops.asgi import application
from operations import broadcasts, fragments
from operations.models import Job, JobState
from tests.conftest import receive_containing

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

        async def scenario() -> tuple[str, str, str, Job]:
            sockets = [(await open_socket(c))[0] for c in cookies]
            snapshots = [await s.receive_from(timeout=10) for s in sockets]
            job = await sync_to_async(Job.objects.create)(type="canary", state=JobState.RUNNING, done=3, total=10)
            await sync_to_async(broadcasts.job_changed)(job.pk)
            pushed = [await receive_containing(s, f'<tr id="job-{job.pk}"') for s in sockets]
            for s in sockets:
                await s.disconnect()
            return snapshots[0], pushed[0], pushed[1], job

        snapshot, for_operator, for_auditor, job = async_to_sync(scenario)()
        # Other processes of the test run push cards too (workers, embedding), so the sequence may jump.
        assert seq_of(for_operator) == seq_of(for_auditor) > seq_of(snapshot)
        assert f'<tr id="job-{job.pk}"' in for_operator and 'hx-swap-oob="true"' in for_operator
        assert '<progress max="100" value="30.0"' in for_operator
        assert f'<div id="job-{job.pk}-detail"' in for_operator and '<section id="latest-runs"' in for_operator
        assert "ops-cancel" in for_operator and "ops-cancel" not in for_auditor

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
        viewers, html = fragments.job_fragments_for_everyone(job)
        assert re.findall(r'<(?:tr|div|section) id="([^"]+)"[^>]*hx-swap-oob="true"', html) == [
            f"job-{job.pk}",
            f"job-{job.pk}-detail",
            "latest-runs",
        ]
        assert "ops-retry" in html and "ops-retry" not in viewers
