from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from audit.models import AuditLog
from indexes.models import EmbeddingState, Entry
from indexes.services.reindex import NothingToIndex, index_rebuild
from indexes.store import cache_clear, index_current, index_manifest
from operations import queueing, services, tokens
from operations.models import ACTIVE_STATES, HistoryKind, Job, JobState
from operations.runner import JobCancelled
from tests.conftest import only_worker, receive_containing, wait_for
from tests.gates import hold, step, wait_until_held
from tests.indexes.index_factories import (
    RunCtx,
    entries_embedded,
    entries_with_vectors,
    index_dir_isolated,
    tree_digest,
    unit_rows,
)

TEXTS = [
    ("manual", "m-apple", "apple pie baking recipe"),
    ("experience", "e-kernel", "linux kernel memory tuning"),
    ("manual", "m-kernel", "kernel scheduler tuning guide"),
    ("document", "d-rivers", "rivers and lakes of the north"),
]
ZEBRA = ("document", "d-zebra", "zebra migration across the savanna")


@pytest.fixture
def own_index_dir(settings, tmp_path):
    yield from index_dir_isolated(settings, tmp_path)


def finished(job: Job) -> bool:
    job.refresh_from_db()
    return job.is_finished


def reindex(actor) -> Job:
    job = services.job_start(type="reindex", params={}, actor=actor, source="cli")
    wait_for(lambda: finished(job), timeout=120, message="the reindex to finish")
    assert job.state == JobState.SUCCEEDED, job.error
    return job


def served_digest() -> dict[str, str]:
    """The served sets and links, without the staging dirs a killed writer leaves behind."""
    return {k: v for k, v in tree_digest(settings.INDEX_DIR).items() if not k.startswith(".build-")}


class ReindexServiceTests:
    def test_builds_from_ready_embeddings_of_the_current_embedder_only(self, own_index_dir, db):
        ready = entries_with_vectors(unit_rows(120), prefix="ok")
        entries_with_vectors(unit_rows(5, seed=9), prefix="pending")
        Entry.objects.filter(external_id__startswith="pending-").update(embedding_state=EmbeddingState.PENDING)
        entries_with_vectors(unit_rows(5, seed=8), prefix="old")
        Entry.objects.filter(external_id__startswith="old-").update(embedding_model="minilm-384")
        ctx = RunCtx()
        result = index_rebuild(ctx, {})
        assert result["vectors"] == 120 and result["index_type"] == "Flat" and result["version"] == 1
        assert ctx.phases == ["loading", "adding", "writing"]
        bundle = index_current()
        assert sorted(bundle.ids.tolist()) == sorted(ready)
        manifest = index_manifest()
        assert manifest["embedder"] == "hashing-384" and manifest["dimension"] == 384
        assert manifest["recall_at_10"] == 1.0 and manifest["build_seconds"] > 0

    def test_above_the_exact_limit_the_index_is_approximate_with_measured_recall(self, own_index_dir, db, settings):
        settings.CHLOPS_INDEX_EXACT_MAX = 500
        entries_with_vectors(unit_rows(2000, seed=4))
        ctx = RunCtx()
        result = index_rebuild(ctx, {})
        assert result["index_type"].startswith("PQ")
        assert result["recall_at_10"] >= 0.95
        assert "measuring" in ctx.phases

    def test_empty_and_wrong_size_embeddings_are_skipped(self, own_index_dir, db):
        ids = entries_with_vectors(unit_rows(10))
        Entry.objects.filter(pk=ids[0]).update(embedding=np.zeros(384, dtype=np.float32).tobytes())
        Entry.objects.filter(pk=ids[1]).update(embedding=b"\x00\x01")
        ctx = RunCtx()
        assert index_rebuild(ctx, {})["vectors"] == 8
        assert any("Skipped 2" in line for line in ctx.logs)

    def test_nothing_to_index_fails_with_a_sentence(self, own_index_dir, db):
        with pytest.raises(NothingToIndex) as caught:
            index_rebuild(RunCtx(), {})
        assert caught.value.message == (
            "There are no ready embeddings from the embedder hashing-384; run the embed job first."
        )

    def test_cancel_mid_build_leaves_the_served_index_untouched(self, own_index_dir, db):
        entries_with_vectors(unit_rows(50))
        index_rebuild(RunCtx(), {})
        before = tree_digest(own_index_dir)
        entries_with_vectors(unit_rows(50, seed=2), prefix="more")
        with pytest.raises(JobCancelled):
            index_rebuild(RunCtx(cancel_in="adding"), {})
        assert tree_digest(own_index_dir) == before
        assert index_current().index.ntotal == 50

    @pytest.mark.parametrize("phase", ["writing", "measuring"])
    def test_cancel_while_writing_or_measuring_leaves_no_staging_dir(self, own_index_dir, db, settings, phase):
        settings.CHLOPS_INDEX_EXACT_MAX = 500
        entries_with_vectors(unit_rows(600, seed=3))
        index_rebuild(RunCtx(), {})
        before = tree_digest(own_index_dir)
        entries_with_vectors(unit_rows(100, seed=5), prefix="more")
        with pytest.raises(JobCancelled):
            index_rebuild(RunCtx(cancel_in=phase), {})
        assert tree_digest(own_index_dir) == before  # no .build-* dir either
        assert index_current().index.ntotal == 600


@pytest.mark.django_db(transaction=True)
class ReindexJobTests:
    def test_reindex_on_the_worker_swaps_audits_and_reloads(self, worker, operator):
        entries_with_vectors(unit_rows(300, seed=11))
        job = reindex(operator)
        version = job.result["version"]
        assert job.result["vectors"] == 300
        assert index_manifest()["version"] == version
        assert index_current().version == version
        phases = list(job.history.filter(kind=HistoryKind.PHASE).values_list("phase", flat=True))
        assert phases == ["loading", "adding", "writing"]
        row = AuditLog.objects.get(action="index.reindex", correlation_id=job.correlation_id)
        assert row.details["version"] == version and row.details["vectors"] == 300
        assert row.actor == operator
        assert not Job.objects.filter(lock_key="index", state__in=ACTIVE_STATES).exists()

    def test_after_the_swap_the_index_card_is_pushed_to_connected_dashboards(self, worker, operator):
        entries_with_vectors(unit_rows(40, seed=14))
        async_to_sync(self._receive_index_card)(operator)

    async def _receive_index_card(self, operator):
        from channels.db import database_sync_to_async

        from chlops.asgi import application

        client = Client()
        await database_sync_to_async(client.force_login)(operator)
        cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
        headers = [(b"cookie", cookie), (b"origin", b"http://localhost"), (b"host", b"localhost")]
        communicator = WebsocketCommunicator(application, "/ws/ops/?view=dashboard", headers=headers)
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        try:
            await communicator.receive_from(timeout=10)  # the snapshot
            job = await database_sync_to_async(reindex)(operator)
            version = job.result["version"]
            # The job's own progress pushes come first, so allow many messages before the index card's.
            await receive_containing(
                communicator,
                lambda m: 'id="index-card"' in m and f'class="index-version">{version}<' in m,
                timeout=20,
                attempts=500,
            )
        finally:
            await communicator.disconnect()

    def test_cancel_on_the_worker_stops_the_build_and_keeps_the_served_index(self, spawn_worker, worker, operator):
        entries_with_vectors(unit_rows(200, seed=15), prefix="first")
        reindex(operator)
        before = served_digest()
        entries_with_vectors(unit_rows(20_000, seed=16), prefix="bulk")
        spawn_worker(
            "slowindex",
            queues="slowindex",
            concurrency=1,
            env={"CHLOPS_INDEX_EXACT_MAX": "100", "CHLOPS_INDEX_APPROX": "hnsw"},
        )
        job = Job.objects.create(
            type="reindex", params={}, lock_key="index", queue="slowindex", requested_by=operator, source="cli"
        )
        with hold(job=job.pk, phase="adding"):
            queueing.send_run_job(job_id=job.pk, queue="slowindex")
            wait_until_held(job.pk)
            # Parked again still adding: the build looks at the cancel between chunks, not only after them all.
            assert step(job.pk) == "adding"
            asked = time.monotonic()
            services.job_cancel(job=job, actor=operator, source="cli")
        wait_for(lambda: finished(job), timeout=10, message="the cancelled reindex to stop")
        assert job.state == JobState.CANCELLED
        assert time.monotonic() - asked < 2
        assert served_digest() == before
        assert not list(settings.INDEX_DIR.glob(".build-*"))

    def test_kill_9_mid_build_fails_the_job_and_leaves_the_served_index_byte_for_byte(
        self, spawn_worker, worker, operator
    ):
        entries_with_vectors(unit_rows(200, seed=12), prefix="first")
        reindex(operator)
        before = served_digest()
        entries_with_vectors(unit_rows(20_000, seed=13), prefix="bulk")
        doomed = spawn_worker(
            "killindex",
            queues="killindex",
            concurrency=1,
            env={"CHLOPS_INDEX_EXACT_MAX": "100", "CHLOPS_INDEX_APPROX": "hnsw"},
        )
        job = Job.objects.create(
            type="reindex", params={}, lock_key="index", queue="killindex", requested_by=operator, source="cli"
        )
        with hold(job=job.pk, phase="adding"):
            queueing.send_run_job(job_id=job.pk, queue="killindex")
            assert wait_until_held(job.pk) == "adding"
            doomed.kill()
        assert served_digest() == before

        def reaped() -> bool:
            services.jobs_reap_lost()
            return finished(job)

        wait_for(reaped, timeout=30, interval=0.25, message="the reaper to fail the lost job")
        assert job.state == JobState.FAILED and "worker lost" in job.error
        assert not Job.objects.filter(lock_key="index", state__in=ACTIVE_STATES).exists()
        assert served_digest() == before
        again = reindex(operator)
        assert again.result["vectors"] == 20_200
        assert not list(settings.INDEX_DIR.glob(".build-*"))


def api_get(base: str, raw_token: str, path: str, **params) -> tuple[int, dict]:
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {raw_token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.mark.django_db(transaction=True)
class HotReloadTests:
    def test_the_web_server_serves_a_new_index_right_after_reindex_without_restart(self, worker, web_server, operator):
        _, raw = tokens.token_create(user=operator, source="cli")
        entries_embedded(TEXTS)
        first = reindex(operator).result["version"]
        _, answer = api_get(web_server, raw, "/api/search", q="zebra migration")
        assert answer["index_version"] == first
        zebra = entries_embedded([ZEBRA])["d-zebra"]
        second = reindex(operator).result["version"]
        _, answer = api_get(web_server, raw, "/api/search", q="zebra migration")
        assert answer["index_version"] == second
        assert answer["results"][0]["entry"]["id"] == zebra
        assert api_get(web_server, raw, "/api/index")[1]["version"] == second

    def test_searches_at_20_per_second_during_a_swap_answer_from_one_version_each(self, worker, web_server, operator):
        _, raw = tokens.token_create(user=operator, source="cli")
        entries_embedded(TEXTS)
        entries_with_vectors(unit_rows(5000, seed=21), prefix="filler")
        old = reindex(operator).result["version"]
        zebra = entries_embedded([ZEBRA])["d-zebra"]
        answers: list[tuple[int, dict]] = []
        stop = threading.Event()

        def searching() -> None:
            while not stop.is_set():
                began = time.monotonic()
                answers.append(api_get(web_server, raw, "/api/search", q="zebra migration", k=5))
                stop.wait(max(0.0, 0.05 - (time.monotonic() - began)))

        thread = threading.Thread(target=searching, daemon=True)
        thread.start()
        try:
            wait_for(lambda: len(answers) >= 10, message="ten searches before the reindex")
            new = reindex(operator).result["version"]
            wait_for(
                lambda: sum(a.get("index_version") == new for _, a in answers) >= 10,
                timeout=30,
                message="ten searches answered by the new index",
            )
        finally:
            stop.set()
            thread.join(10)
        assert all(status == 200 for status, _ in answers), [a for s, a in answers if s != 200][:3]
        assert {a["index_version"] for _, a in answers} == {old, new}
        for _, answer in answers:
            ids = [hit["entry"]["id"] for hit in answer["results"]]
            # The old index has no zebra; the new one has it first. A mix would break one or the other.
            assert (zebra not in ids) if answer["index_version"] == old else (ids[0] == zebra)


class IndexCardTests:
    def test_before_the_first_build_the_card_says_to_run_reindex(self, own_index_dir, operator):
        client = Client()
        client.force_login(operator)
        html = client.get("/admin/ops/partials/card/index-card/").content.decode()
        assert "No index yet — run reindex." in html
        assert 'data-action="reindex"' in html

    def test_the_card_shows_the_served_index_and_hides_the_button_from_auditors(self, own_index_dir, auditor):
        entries_with_vectors(unit_rows(30))
        index_rebuild(RunCtx(), {})
        cache_clear()
        client = Client()
        client.force_login(auditor)
        html = client.get("/admin/ops/").content.decode()
        assert 'class="index-version">1<' in html and 'class="index-vectors">30<' in html
        assert 'class="index-type">Flat<' in html and "hashing-384" in html
        assert re.search(r'class="index-built-at"><time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</time>', html)
        assert 'data-action="reindex"' not in html
        assert client.post("/admin/ops/index/reindex/").status_code == 403

    @pytest.mark.django_db(transaction=True)
    def test_the_reindex_button_starts_the_job_and_a_second_click_names_the_running_one(self, worker, operator):
        entries_with_vectors(unit_rows(20, seed=31))
        client = Client()
        client.force_login(operator)
        with only_worker("nobody"):  # nobody takes the job, so it stays queued and holds the lock
            response = client.post("/admin/ops/index/reindex/", HTTP_HX_REQUEST="true")
            assert response.status_code == 200 and "Started" in response.content.decode()
            job = Job.objects.get(type="reindex")
            assert job.source == "web" and job.requested_by == operator
            again = client.post("/admin/ops/index/reindex/", HTTP_HX_REQUEST="true")
            assert again.status_code == 409
            assert "Already running" in again.content.decode()
            services.job_cancel(job=job, actor=operator, source="cli")
