from __future__ import annotations

import io
import json
import math
import os
import shutil

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django.test import Client

from indexes.models import Entry
from indexes.sparse import search as sparse_search_module
from indexes.sparse.building import sparse_generate
from indexes.sparse.search import SparseNotBuilt, sparse_search
from indexes.sparse.store import current_version, manifest_read, sparse_dir
from indexes.sparse.tokens import tokenize
from operations import services
from operations.models import Job, JobState
from tests.conftest import receive_containing, wait_for
from tests.gates import hold, wait_until_held
from tests.indexes.factories import FakeContext


@pytest.fixture(autouse=True)
def no_sparse_index():
    """Each test starts before the first generation: the files live outside the rolled-back database."""
    shutil.rmtree(sparse_dir(), ignore_errors=True)
    sparse_search_module._cached = None
    yield
    shutil.rmtree(sparse_dir(), ignore_errors=True)
    sparse_search_module._cached = None


def entry(external_id: str, title: str, body: str = "", kind: str = "manual") -> Entry:
    return Entry.objects.create(kind=kind, external_id=external_id, title=title, body=body, content_hash="x")


def corpus() -> dict[str, int]:
    rows = [
        ("faiss", "Rebuilding the FAISS index", "Run reindex after an import; the index swaps atomically."),
        ("redis", "Redis is down", "Workers stop; the dashboard polls until Redis comes back."),
        ("celery", "Celery workers", "Pause, resume and drain Celery workers from the dashboard."),
        ("snap", "Snapshots", "A snapshot saves the served index files and a manifest."),
    ]
    ids = {external_id: entry(external_id, title, body).pk for external_id, title, body in rows}
    ids["doc"] = entry("repo:README.md#0", "README", "How to rebuild the index from scratch.", kind="document").pk
    return ids


@pytest.mark.django_db
class SparseSearchTests:
    def test_search_before_the_first_generation_says_to_run_the_job(self):
        with pytest.raises(SparseNotBuilt) as raised:
            sparse_search(query="index", k=5, kind=None)
        assert raised.value.status == 503
        assert raised.value.message == "Sparse vectors have not been generated yet; run the sparse job."

    def test_best_match_comes_first_and_unknown_words_find_nothing(self):
        ids = corpus()
        sparse_generate(FakeContext(), {})
        hits = sparse_search(query="celery workers", k=3, kind=None)
        assert hits[0][0] == ids["celery"]
        assert [score for _, score in hits] == sorted((score for _, score in hits), reverse=True)
        assert sparse_search(query="zebra quokka", k=3, kind=None) == []
        assert sparse_search(query="", k=3, kind=None) == []

    def test_kind_filter_keeps_only_that_kind(self):
        ids = corpus()
        sparse_generate(FakeContext(), {})
        assert {pk for pk, _ in sparse_search(query="index", k=10, kind=None)} >= {ids["faiss"], ids["doc"]}
        assert [pk for pk, _ in sparse_search(query="index", k=10, kind="document")] == [ids["doc"]]
        assert sparse_search(query="index", k=10, kind="experience") == []

    def test_k_limits_the_answer(self):
        for i in range(30):
            entry(f"m{i}", f"Alpha note {i}", "alpha " * (i + 1))
        sparse_generate(FakeContext(), {})
        assert len(sparse_search(query="alpha", k=7, kind=None)) == 7

    def test_scores_are_bm25(self):
        a = entry("a", "", "apple apple banana")
        entry("b", "", "banana cherry")
        sparse_generate(FakeContext(), {})
        n, df, k1, b = 2, 1, 1.2, 0.75
        lengths = [3, 2]
        avg = sum(lengths) / 2
        tf = 2
        expected = math.log1p((n - df + 0.5) / (df + 0.5)) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * 3 / avg))
        [(pk, score)] = sparse_search(query="Apple", k=5, kind=None)
        assert pk == a.pk
        assert score == pytest.approx(expected, rel=1e-5)

    def test_tokens_are_lower_cased_words_and_split_identifiers(self):
        assert tokenize("Rebuild the FAISS-index, snake_case x2!") == [
            "rebuild",
            "the",
            "faiss",
            "index",
            "snake",
            "case",
            "x2",
        ]

    def test_a_new_generation_is_picked_up_without_a_restart(self):
        entry("old", "Kestrel", "")
        sparse_generate(FakeContext(), {})
        assert sparse_search(query="falcon", k=3, kind=None) == []
        new = entry("new", "Falcon", "")
        sparse_generate(FakeContext(), {})
        assert sparse_search(query="falcon", k=3, kind=None)[0][0] == new.pk

    def test_other_processes_see_the_new_version_by_its_marker(self):
        entry("one", "Osprey", "")
        sparse_generate(FakeContext(), {})
        sparse_search(query="osprey", k=1, kind=None)
        cached = sparse_search_module._cached
        assert cached is not None and cached[1].version == current_version()
        # Another process swapping CURRENT changes its inode; this process reloads on its next search.
        (sparse_dir() / "CURRENT.new").write_text(current_version())
        os.replace(sparse_dir() / "CURRENT.new", sparse_dir() / "CURRENT")
        sparse_search(query="osprey", k=1, kind=None)
        assert sparse_search_module._cached[0] != cached[0]

    def test_generation_keeps_two_versions_and_leaves_no_staging_behind(self):
        entry("one", "Heron", "")
        for _ in range(3):
            sparse_generate(FakeContext(), {})
        names = sorted(p.name for p in (sparse_dir() / "versions").iterdir())
        assert len(names) == 2 and names[-1] == current_version()

    def test_empty_corpus_generates_an_empty_index(self):
        result = sparse_generate(FakeContext(), {})
        assert (result["entries"], result["vocabulary"]) == (0, 0)
        assert sparse_search(query="anything", k=5, kind=None) == []

    def test_generation_reports_progress_in_phases(self):
        for i in range(5):
            entry(f"m{i}", f"t{i}", "body")
        ctx = FakeContext()
        sparse_generate(ctx, {})
        phases = [phase for _, _, phase in ctx.calls if phase]
        assert phases == ["reading", "weighting", "writing"]
        assert (5, 5, None) in ctx.calls
        manifest = manifest_read()
        assert manifest["entries"] == 5 and manifest["scoring"] == {"model": "bm25", "k1": 1.2, "b": 0.75}


@pytest.mark.django_db
class SparseCardTests:
    def test_card_shows_not_generated_then_vocabulary_entries_and_time(self, operator, auditor):
        client = Client()
        client.force_login(operator)
        html = client.get("/admin/ops/partials/card/sparse-card/").content.decode()
        assert "Not generated yet" in html and 'data-action="sparse-generate"' in html
        entry("a", "Apple", "banana")
        sparse_generate(FakeContext(), {})
        html = client.get("/admin/ops/partials/card/sparse-card/").content.decode()
        assert "2 terms" in html and "1 of 1" in html
        built_at = manifest_read()["built_at"][:10]
        assert built_at in html
        client.force_login(auditor)
        html = client.get("/admin/ops/partials/card/sparse-card/").content.decode()
        assert "2 terms" in html and 'data-action="sparse-generate"' not in html

    def test_generate_button_posts_to_the_sparse_operation(self, operator):
        client = Client()
        client.force_login(operator)
        dashboard = client.get("/admin/ops/").content.decode()
        assert 'id="sparse-card"' in dashboard
        assert 'hx-post="/admin/ops/run/sparse/"' in dashboard

    def test_generate_button_starts_a_sparse_job(self, operator):
        client = Client()
        client.force_login(operator)
        response = client.post("/admin/ops/run/sparse/", HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        job = Job.objects.get()
        assert (job.type, job.lock_key, job.requested_by) == ("sparse", "sparse", operator)
        assert f'Started <a href="/admin/ops/jobs/{job.pk}/">' in response.content.decode()

    def test_auditors_cannot_generate(self, auditor):
        client = Client()
        client.force_login(auditor)
        assert client.post("/admin/ops/run/sparse/").status_code == 403
        assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
class SparseCardPushTests:
    def test_generation_pushes_the_card_to_connected_dashboards(self, operator):
        entry("p1", "Puffin", "seabird")
        async_to_sync(self._receive_push)(operator)

    async def _receive_push(self, operator):
        from chlops.asgi import application

        client = Client()
        await database_sync_to_async(client.force_login)(operator)
        cookie = f"sessionid={client.cookies['sessionid'].value}"
        communicator = WebsocketCommunicator(
            application,
            "/ws/ops/?view=dashboard",
            headers=[(b"cookie", cookie.encode()), (b"origin", b"http://localhost"), (b"host", b"localhost")],
        )
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        try:
            await receive_containing(communicator, "Not generated yet")  # the snapshot, the sparse card as it was
            await database_sync_to_async(sparse_generate)(FakeContext(), {})
            # Other tests' workers push cards too: wait for the push that shows this generation.
            pushed = await receive_containing(communicator, lambda m: 'id="sparse-card"' in m and "2 terms" in m)
            assert "1 of 1" in pushed and 'hx-swap-oob="true"' in pushed
        finally:
            await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
class SparseJobTests:
    def test_jobs_run_sparse_waits_for_the_worker_and_search_uses_the_result(self, worker):
        target = entry("w1", "Pelican", "Coastal bird")
        entry("w2", "Sparrow", "Garden bird")
        out = io.StringIO()
        call_command("jobs", "run", "sparse", "--wait", "--json", stdout=out)  # exits only when the job did not succeed
        job = json.loads(out.getvalue())
        assert job["state"] == JobState.SUCCEEDED
        assert job["result"]["entries"] == 2
        assert job["lock_key"] == "sparse"
        assert sparse_search(query="pelican", k=5, kind=None)[0][0] == target.pk

    def test_a_second_sparse_job_is_refused_while_one_runs(self, worker, operator):
        for i in range(2):
            entry(f"c{i}", "t", "b")
        with hold("sparse"):  # the first cannot end before the second is asked for
            first = services.job_start(type="sparse", params={}, actor=operator, source="cli")
            with pytest.raises(services.LockHeld):
                services.job_start(type="sparse", params={}, actor=operator, source="cli")
        wait_for(lambda: Job.objects.get(pk=first.pk).is_finished, timeout=60, message="the first sparse job")

    def test_cancel_stops_generation_and_serves_nothing_new(self, worker, operator, settings):
        settings.CHLOPS_SPARSE_BATCH_SIZE = 50
        Entry.objects.bulk_create(
            Entry(kind="manual", external_id=f"big{i}", title="t", body="word " * 200, content_hash="x")
            for i in range(20_000)
        )
        with hold("sparse", phase="reading", done=1):  # parked once it has read a batch of entries
            job = services.job_start(type="sparse", params={}, actor=operator, source="cli")
            wait_until_held(job.pk, timeout=60)
            job.refresh_from_db()
            assert job.state == JobState.RUNNING and job.done > 0
            services.job_cancel(job=job, actor=operator, source="cli")
        wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=15, message="the cancel to land")
        assert Job.objects.get(pk=job.pk).state == JobState.CANCELLED
        assert current_version() is None
        assert not np.any([p.name.startswith(".tmp-") for p in (sparse_dir() / "versions").glob("*")])
