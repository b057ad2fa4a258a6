from __future__ import annotations

import re
import sys

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from audit.models import AuditLog
from indexes.embedders import claims, vector_from_bytes
from indexes.models import EmbeddingState, Entry
from indexes.services import embedding
from operations import services
from operations.models import Job, JobState
from tests.conftest import Process, receive_containing, wait_for
from tests.gates import advance, hold, wait_until_held
from tests.indexes.factories import csv_text, import_file
from tests.operations.factories import job_create

NO_TEXT = "This entry has no text to embed: its title and body are empty. Add a title or body, then retry."


def entries_create(n: int, *, prefix: str = "e", state: str = EmbeddingState.PENDING, **fields) -> list[Entry]:
    rows = []
    for i in range(n):
        title = fields.get("title", f"Runbook {prefix}{i}: restart the {['ingest', 'search', 'embed'][i % 3]} worker")
        body = fields.get("body", f"Step {i}: drain the queue, restart, watch the dashboard for errors {i * 7}.")
        rows.append(
            Entry(
                kind=fields.get("kind", ["experience", "manual", "document"][i % 3]),
                external_id=f"{prefix}{i}",
                title=title,
                body=body,
                content_hash=Entry.hash_content(title=title, body=body, tags=[], metadata={}),
                embedding_state=state,
                embedding_error="earlier failure" if state == EmbeddingState.FAILED else "",
            )
        )
    return Entry.objects.bulk_create(rows)


def states(prefix: str = "") -> dict[str, int]:
    qs = Entry.objects.filter(external_id__startswith=prefix)
    return {s: qs.filter(embedding_state=s).count() for s in EmbeddingState.values}


def finished(job: Job) -> Job | None:
    job.refresh_from_db()
    return job if job.is_finished else None


@pytest.fixture(scope="class")
def beat(stack_env, tmp_path_factory):
    """A real celery beat with the project's schedule, dispatching every half second."""
    tmp = tmp_path_factory.mktemp("beat")
    args = [
        sys.executable, "-m", "celery", "-A", "chlops", "beat", "-S", "celery.beat:PersistentScheduler",
        "-s", str(tmp / "schedule"), "--pidfile=", "-l", "INFO",
    ]  # fmt: skip
    process = Process(args, {**stack_env, "CHLOPS_EMBED_DISPATCH_INTERVAL": "0.5"}, tmp / "beat.log")
    wait_for(lambda: "beat: Starting" in process.output(), timeout=30, message="beat to start")
    yield process
    process.stop()


@pytest.mark.django_db(transaction=True)
class PipelineTests:
    def test_pending_entries_are_embedded_by_themselves(self, worker, beat):
        entries_create(700, prefix="auto")
        wait_for(lambda: states("auto")["ready"] == 700, timeout=60, message="every pending entry to be embedded")
        entry = Entry.objects.get(external_id="auto5")
        vector = vector_from_bytes(entry.embedding, 384)
        assert entry.embedding_model == "hashing-384" and entry.embedded_at is not None
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
        wait_for(lambda: claims.batches_in_flight() == 0, timeout=10, message="the batches to be marked finished")

    def test_imported_entries_are_embedded_and_reimported_changes_embedded_again(self, worker, beat, operator):
        rows = [("manual", f"imp{i}", f"Manual {i}", f"How to restart service {i}", "", "") for i in range(50)]
        job = services.job_start(
            type="import", params={"path": import_file(csv_text(*rows))}, actor=operator, source="cli"
        )
        wait_for(lambda: finished(job), timeout=60, message="the import to finish")
        wait_for(lambda: states("imp")["ready"] == 50, timeout=60, message="the imported entries to be embedded")
        before = Entry.objects.get(external_id="imp3").embedding
        rows[3] = ("manual", "imp3", "Manual 3", "A completely different procedure for the backup host", "", "")
        job = services.job_start(
            type="import", params={"path": import_file(csv_text(*rows))}, actor=operator, source="cli"
        )
        wait_for(lambda: finished(job), timeout=60, message="the second import to finish")
        assert job.result["updated"] == 1
        wait_for(
            lambda: Entry.objects.get(external_id="imp3").embedding_state == EmbeddingState.READY
            and bytes(Entry.objects.get(external_id="imp3").embedding) != bytes(before),
            timeout=60,
            message="the changed entry to be embedded again",
        )

    def test_entry_without_text_fails_with_its_reason_then_embeds_after_a_fix_and_retry(self, worker, beat):
        (entry,) = entries_create(1, prefix="empty", title="", body="")
        wait_for(lambda: states("empty")["failed"] == 1, timeout=30, message="the empty entry to fail")
        entry.refresh_from_db()
        assert entry.embedding_error == NO_TEXT and entry.embedding is None
        Entry.objects.filter(pk=entry.pk).update(body="Now the entry has a body worth embedding.")
        assert embedding.entries_embedding_retry(ids=[entry.pk], source="cli") == 1
        wait_for(lambda: states("empty")["ready"] == 1, timeout=30, message="the retried entry to be embedded")
        assert AuditLog.objects.filter(action="embedding.retry").exists()


@pytest.mark.django_db(transaction=True)
class DispatchTests:
    def test_claimed_entries_are_not_sent_twice_and_go_once_released(self, worker):
        ids = [e.pk for e in entries_create(300, prefix="claim")]
        assert claims.entries_claim(ids=ids, owner="someone else") == ids
        try:
            assert embedding.embedding_dispatch() == 0
            assert claims.entries_claim(ids=ids[:5], owner="a third") == []
        finally:
            claims.entries_release(ids=ids)
        assert embedding.embedding_dispatch() == 2  # 256 + 44
        wait_for(lambda: states("claim")["ready"] == 300, timeout=60, message="the dispatched batches to finish")

    def test_a_second_dispatcher_waits_for_the_lock(self, worker):
        entries_create(10, prefix="lock")
        lock = claims.dispatch_lock()
        assert lock.acquire()
        try:
            assert embedding.embedding_dispatch() == 0
        finally:
            lock.release()
        assert states("lock")["pending"] == 10

    def test_no_batch_is_sent_while_a_drain_runs(self):
        entries_create(10, prefix="drain")
        drain = job_create(type="drain", state=JobState.RUNNING)
        assert embedding.embedding_dispatch() == 0
        drain.state = JobState.SUCCEEDED
        drain.save(update_fields=["state"])
        assert embedding.embedding_dispatch() == 1


@pytest.mark.django_db(transaction=True)
class EmbedJobTests:
    def run(self, operator, **params) -> Job:
        job = services.job_start(type="embed", params=params, actor=operator, source="cli")
        wait_for(lambda: finished(job), timeout=120, message="the embed job to finish")
        return job

    def test_embed_job_reembeds_failed_and_pending_entries_with_progress(self, worker, operator):
        entries_create(300, prefix="failed", state=EmbeddingState.FAILED)
        entries_create(20, prefix="pend")
        job = self.run(operator)
        assert (job.state, job.error) == (JobState.SUCCEEDED, "")
        assert states("failed")["ready"] == 300 and states("pend")["ready"] == 20
        assert job.done == job.total == 320
        assert job.result["entries"] == 320 and job.result["embedder"] == "hashing-384"

    def test_changed_embedder_is_announced_then_the_job_reembeds_stale_entries(self, worker, operator, settings):
        entries_create(30, prefix="stale", state=EmbeddingState.READY)
        Entry.objects.filter(external_id__startswith="stale").update(embedding_model="hashing-128")
        html = embedding_card_html(operator)
        assert "30 entries were embedded with hashing-128; the current embedder is hashing-384" in html
        assert "run embed to re-embed them" in html
        job = self.run(operator)
        assert job.result["marked_stale"] == 30 and job.result["embedded"] == 30
        assert set(Entry.objects.filter(external_id__startswith="stale").values_list("embedding_model", flat=True)) == {
            "hashing-384"
        }
        assert AuditLog.objects.filter(action="embedding.mark_stale", details__entries=30).exists()
        assert "were embedded with" not in embedding_card_html(operator)

    def test_all_reembeds_ready_entries_of_the_given_kinds(self, worker, operator):
        entries_create(9, prefix="allk", state=EmbeddingState.READY)
        job = self.run(operator, all=True, kinds="manual")
        assert job.result["entries"] == 3 and job.result["embedded"] == 3
        assert Entry.objects.filter(external_id__startswith="allk", kind="manual").exclude(embedding=None).count() == 3

    def test_unknown_kind_is_refused_with_a_sentence(self, operator):
        with pytest.raises(services.JobParamsInvalid) as caught:
            services.job_start(type="embed", params={"kinds": "recipe"}, actor=operator, source="cli")
        assert caught.value.fields["kinds"] == ["Unknown kind(s): recipe. Known: experience, manual, document."]

    def test_cancel_stops_the_embed_job_between_batches(self, worker, operator, settings):
        entries_create(40_000, prefix="big", state=EmbeddingState.FAILED)
        with hold("embed", phase="embedding"):
            job = services.job_start(type="embed", params={}, actor=operator, source="cli")
            wait_until_held(job.pk, timeout=60)
            advance(job.pk, until=lambda: Job.objects.get(pk=job.pk).done > 0)  # a batch at a time
            wait_until_held(job.pk)
            services.job_cancel(job=job, actor=operator, source="cli")
        wait_for(lambda: finished(job), timeout=10, message="the embed job to stop")
        assert job.state == JobState.CANCELLED
        assert 0 < states("big")["ready"] < 40_000


def embedding_card_html(user) -> str:
    client = Client()
    client.force_login(user)
    return client.get("/admin/ops/partials/card/embedding-card/").content.decode()


@pytest.mark.django_db
class EmbeddingCardTests:
    def test_card_shows_counts_per_kind_the_embedder_and_latest_failures(self, operator):
        entries_create(4, prefix="p")
        entries_create(2, prefix="f", state=EmbeddingState.FAILED, kind="manual")
        html = embedding_card_html(operator)
        assert 'id="embedding-card"' in html and "Embedding queue" in html
        assert (
            '<tr data-kind="manual"><th scope="row">Manual</th>\n        <td class="embedding-pending">1</td><td class="embedding-failed">2</td>'
            in html
        )
        assert "hashing, 384 dimensions" in html
        assert "manual:f1" in html and "earlier failure" in html
        assert 'data-action="embedding-retry"' in html and 'data-action="embedding-run"' in html

    def test_auditor_sees_no_buttons_and_cannot_retry(self, auditor):
        (entry,) = entries_create(1, prefix="f", state=EmbeddingState.FAILED)
        html = embedding_card_html(auditor)
        assert "f0" in html and "data-action" not in html
        client = Client()
        client.force_login(auditor)
        response = client.post("/admin/ops/embedding/retry/", {"entry": entry.pk})
        assert response.status_code == 403
        assert "You do not have permission to run, cancel or retry jobs." in response.content.decode()
        entry.refresh_from_db()
        assert entry.embedding_state == EmbeddingState.FAILED
        assert AuditLog.objects.filter(action="permission.denied", target="/admin/ops/embedding/retry/").exists()

    def test_operator_retries_a_failed_entry_from_the_card(self, operator):
        (entry,) = entries_create(1, prefix="f", state=EmbeddingState.FAILED)
        client = Client()
        client.force_login(operator)
        response = client.post("/admin/ops/embedding/retry/", {"entry": entry.pk}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert "1 entry is pending again." in response.content.decode()
        entry.refresh_from_db()
        assert (entry.embedding_state, entry.embedding_error) == (EmbeddingState.PENDING, "")
        assert AuditLog.objects.get(action="embedding.retry").actor == operator
        response = client.post("/admin/ops/embedding/retry/", {}, HTTP_HX_REQUEST="true")
        assert response.status_code == 400 and "Choose an entry to retry." in response.content.decode()

    def test_operator_starts_the_embed_job_from_the_card_and_a_second_start_names_the_running_one(self, operator):
        client = Client()
        client.force_login(operator)
        response = client.post("/admin/ops/embedding/run/", HTTP_HX_REQUEST="true")
        job = Job.objects.get(type="embed")
        assert response.status_code == 200 and f"Started {job}." in response.content.decode()
        assert job.requested_by == operator and job.params == {"kinds": [], "all": False}
        again = client.post("/admin/ops/embedding/run/", HTTP_HX_REQUEST="true")
        assert again.status_code == 409
        assert f"Already running: {job} (queued). Wait for it to finish or cancel it." in again.content.decode()

    def test_auditor_cannot_start_the_embed_job(self, auditor):
        client = Client()
        client.force_login(auditor)
        assert client.post("/admin/ops/embedding/run/").status_code == 403
        assert not Job.objects.filter(type="embed").exists()

    def test_admin_action_retries_the_selected_entries(self, operator):
        entries = entries_create(3, prefix="adm", state=EmbeddingState.FAILED)
        client = Client()
        client.force_login(operator)
        response = client.post(
            "/admin/indexes/entry/",
            {"action": "retry_embedding", "_selected_action": [e.pk for e in entries[:2]]},
            follow=True,
        )
        assert "2 entries are pending again" in response.content.decode()
        assert states("adm") == {"pending": 2, "ready": 0, "failed": 1}

    def test_admin_shows_the_embedding_fields_read_only(self, superuser):
        (entry,) = entries_create(1, prefix="ro", state=EmbeddingState.FAILED)
        client = Client()
        client.force_login(superuser)
        html = client.get(f"/admin/indexes/entry/{entry.pk}/change/").content.decode()
        assert "earlier failure" in html and 'name="embedding_state"' not in html and "Embedding model" in html


def row_of(kind: str, *, pending: int, ready: int) -> str:
    """The embedding card's row for one kind, as a pattern."""
    return (
        rf'data-kind="{kind}"><th scope="row">[^<]*</th>\s*<td class="embedding-pending">{pending}</td>'
        rf'<td class="embedding-failed">0</td><td>{ready}</td>'
    )


@pytest.mark.django_db(transaction=True)
class EmbeddingCardPushTests:
    def test_a_committed_batch_pushes_the_card(self, operator):
        async_to_sync(self._receive_push)(operator)

    async def _receive_push(self, operator):
        from channels.db import database_sync_to_async

        from chlops.asgi import application

        client = Client()
        await database_sync_to_async(client.force_login)(operator)
        (entry,) = await database_sync_to_async(entries_create)(1, prefix="push")
        cookie = f"sessionid={client.cookies['sessionid'].value}"
        headers = [(b"cookie", cookie.encode()), (b"origin", b"http://localhost"), (b"host", b"localhost")]
        communicator = WebsocketCommunicator(application, "/ws/ops/?view=dashboard", headers=headers)
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        try:
            snapshot = await communicator.receive_from(timeout=10)
            assert 'id="embedding-card"' in snapshot
            embedding._last_push = 0.0
            await database_sync_to_async(embedding.entries_embed)(ids=[entry.pk])
            # A worker of another test may push the card before this change: wait for the push that shows it.
            pushed = await receive_containing(
                communicator,
                lambda m: 'id="embedding-card"' in m and re.search(row_of(entry.kind, pending=0, ready=1), m),
            )
            assert 'hx-swap-oob="true"' in pushed
        finally:
            await communicator.disconnect()
