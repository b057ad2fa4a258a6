from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import transaction

from operations import broadcasts, fragments, tiles
from operations.broadcasts import Change
from operations.models import Job, JobState
from tests.conftest import BASE_DIR, receive_containing
from tests.operations.test_consumers import open_socket, seq_of, session_cookie
from tests.sessions import browser_login, csrf_header

pytestmark = pytest.mark.django_db(transaction=True)


class HeldRenderer:
    """The real renderer behind a gate that the test opens, noting each change as it is rendered."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.rendered: list[Change] = []

    def __call__(self, change: Change) -> tuple[str, str] | None:
        self.gate.wait(30)
        self.rendered.append(change)
        return fragments.change_render(change)


@pytest.fixture
def held() -> Iterator[HeldRenderer]:
    renderer = HeldRenderer()
    broadcasts.renderer_set(renderer)
    try:
        yield renderer
    finally:
        renderer.gate.set()
        assert broadcasts.publish_flush(30)
        broadcasts.renderer_set(tiles.change_render)  # as OperationsConfig.ready() sets it


class PublisherTests:
    def test_starting_a_job_through_the_api_answers_before_its_push_is_rendered(self, held, operator):
        client = browser_login(operator)
        response = client.post(
            "/api/jobs", json.dumps({"type": "canary", "params": {"seconds": 0}}), content_type="application/json",
            **csrf_header(client),
        )  # fmt: skip
        assert response.status_code == 201
        assert held.rendered == []  # the renderer is still held: the answer did not wait for it
        held.gate.set()
        assert broadcasts.publish_flush(30)
        assert Change("job", response.json()["id"]) in held.rendered

    def test_changes_that_wait_are_rendered_once_each_in_the_order_they_came(self, held):
        first, second, third = (Job.objects.create(type="canary", state=JobState.RUNNING) for _ in range(3))
        broadcasts.job_changed(first.pk)  # taken at once; its rendering waits at the gate
        broadcasts.job_changed(second.pk, progress_only=True)
        broadcasts.job_changed(third.pk, progress_only=True)
        broadcasts.job_changed(second.pk)  # a full change takes the place of the waiting progress-only one
        broadcasts.job_changed(third.pk, progress_only=True)
        broadcasts.card_changed("latest-runs")
        held.gate.set()
        assert broadcasts.publish_flush(30)
        assert held.rendered == [
            Change("job", first.pk),
            Change("job", second.pk),
            Change("job", third.pk, progress_only=True),
            Change("card", "latest-runs"),
        ]

    def test_a_change_inside_a_transaction_waits_for_its_commit(self, held):
        job = Job.objects.create(type="canary")
        with transaction.atomic():
            broadcasts.job_changed(job.pk)
            held.gate.set()
            assert broadcasts.publish_flush(30) and held.rendered == []
        assert broadcasts.publish_flush(30)
        assert held.rendered == [Change("job", job.pk)]

    def test_every_dashboard_ends_on_the_jobs_last_state(self, operator):
        job = Job.objects.create(type="canary", state=JobState.QUEUED, total=4)
        cookie = session_cookie(operator)

        async def scenario() -> list[str]:
            socket, _ = await open_socket(cookie)
            await socket.receive_from(timeout=10)  # the snapshot
            for state, done in ((JobState.RUNNING, 1), (JobState.RUNNING, 3), (JobState.SUCCEEDED, 4)):
                await sync_to_async(Job.objects.filter(pk=job.pk).update)(state=state, done=done)
                await sync_to_async(broadcasts.job_changed)(job.pk, progress_only=state == JobState.RUNNING and done == 3)
            pushes = [await receive_containing(socket, f'<tr id="job-{job.pk}"')]
            while 'data-state="succeeded"' not in pushes[-1]:
                pushes.append(await receive_containing(socket, f'<tr id="job-{job.pk}"'))
            await socket.disconnect()
            return pushes

        pushes = async_to_sync(scenario)()
        seqs = [seq_of(push) for push in pushes]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert 'data-state="succeeded"' in pushes[-1]

    def test_a_command_that_starts_a_job_has_pushed_it_when_it_exits(self, operator, stack_env):
        cookie = session_cookie(operator)

        async def scenario() -> tuple[int, str]:
            socket, _ = await open_socket(cookie)
            await socket.receive_from(timeout=10)
            ran = await sync_to_async(subprocess.run)(
                [sys.executable, "manage.py", "jobs", "run", "canary", "--param", "seconds=0", "--json"],
                cwd=BASE_DIR, env=stack_env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert ran.returncode == 0, ran.stderr
            job_id = json.loads(ran.stdout)["id"]
            # The command has exited: the push was sent before it did, or it never will be.
            pushed = await receive_containing(socket, f'<tr id="job-{job_id}"')
            await socket.disconnect()
            return job_id, pushed

        job_id, pushed = async_to_sync(scenario)()
        assert f'<tr id="job-{job_id}"' in pushed
