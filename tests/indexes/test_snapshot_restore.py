from __future__ import annotations

import io
import threading
import time
import zipfile

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client

from audit.models import AuditLog
from indexes.models import IndexSnapshot
from indexes.services.reindex import index_rebuild
from indexes.snapshots.restore import restore_start, snapshot_restore
from indexes.snapshots.services import snapshot_save
from indexes.snapshots.storage import snapshots_dir
from indexes.snapshots.validate import SnapshotRefused
from indexes.store import index_current, index_manifest
from operations import services, tokens
from operations.models import Job, JobState
from tests.conftest import wait_for
from tests.indexes.index_factories import (
    RunCtx,
    entries_embedded,
    entries_with_vectors,
    index_dir_isolated,
    tree_digest,
    unit_rows,
)
from tests.indexes.test_reindex import TEXTS, ZEBRA, api_get, reindex


@pytest.fixture
def own_index_dir(settings, tmp_path):
    yield from index_dir_isolated(settings, tmp_path)


def finished(job: Job) -> Job:
    wait_for(lambda: job.refresh_from_db() or job.is_finished, timeout=120, message=f"the {job.type} job to finish")
    return job


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


class RestoreServiceTests:
    def test_a_tampered_stored_snapshot_is_refused_and_the_served_index_is_untouched(self, own_index_dir, db, operator):
        entries_with_vectors(unit_rows(30, seed=2), prefix="t")
        index_rebuild(RunCtx(), {})
        snapshot = snapshot_save(source="job", actor=operator, correlation_id=None)
        path = snapshots_dir() / snapshot.path
        with zipfile.ZipFile(path) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        members["ids.npy"] = members["ids.npy"][:-8] + bytes(8)
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
        before = tree_digest(settings.INDEX_DIR)
        with pytest.raises(SnapshotRefused) as caught:
            snapshot_restore(RunCtx(), {"snapshot": snapshot.pk})
        assert "the checksum of ids.npy does not match its manifest" in caught.value.message
        assert {k: v for k, v in tree_digest(settings.INDEX_DIR).items() if not k.startswith(".build-")} == before
        assert not list(settings.INDEX_DIR.glob(".build-*"))
        assert AuditLog.objects.filter(action="snapshot.refused", target=snapshot.name).exists()
        assert IndexSnapshot.objects.count() == 1  # no backup was taken


class RestoreConfirmTests:
    def test_the_api_refuses_a_restore_whose_confirmation_is_not_the_name(self, own_index_dir, db, operator):
        entries_with_vectors(unit_rows(20, seed=4), prefix="c")
        index_rebuild(RunCtx(), {})
        snapshot = snapshot_save(source="job", actor=operator, correlation_id=None)
        response = logged_in(operator).post(
            f"/api/snapshots/{snapshot.pk}/restore", {"confirm": "yes"}, content_type="application/json"
        )
        assert response.status_code == 400
        assert response.json() == {
            "error": f"To restore it, type the snapshot's name exactly: {snapshot.name} (it replaces the served index)."
        }
        assert not Job.objects.filter(type="restore").exists()
        row = AuditLog.objects.get(action="snapshot.restore")
        assert row.outcome == "failure" and row.target == snapshot.name

    def test_auditors_cannot_restore(self, own_index_dir, db, operator, auditor):
        entries_with_vectors(unit_rows(20, seed=4), prefix="c")
        index_rebuild(RunCtx(), {})
        snapshot = snapshot_save(source="job", actor=operator, correlation_id=None)
        response = logged_in(auditor).post(
            f"/api/snapshots/{snapshot.pk}/restore", {"confirm": snapshot.name}, content_type="application/json"
        )
        assert response.status_code == 403

    def test_the_command_without_a_terminal_asks_for_confirm(self, own_index_dir, db, operator):
        entries_with_vectors(unit_rows(20, seed=4), prefix="c")
        index_rebuild(RunCtx(), {})
        snapshot = snapshot_save(source="job", actor=operator, correlation_id=None)
        with pytest.raises(CommandError) as caught:
            call_command("snapshots", "restore", str(snapshot.pk))  # pytest gives no terminal
        assert caught.value.returncode == 2
        assert str(caught.value) == (
            f"Pass --confirm {snapshot.name} to restore this snapshot; it replaces the served index."
        )
        with pytest.raises(CommandError) as caught:
            call_command("snapshots", "restore", str(snapshot.pk), "--confirm", "nope")
        assert caught.value.returncode == 2 and snapshot.name in str(caught.value)


@pytest.mark.django_db(transaction=True)
class RestoreJobTests:
    def test_restore_on_the_worker_backs_up_swaps_reloads_and_can_be_undone(self, worker, operator):
        first_ids = entries_with_vectors(unit_rows(70, seed=41), prefix="r1")
        v1 = finished(services.job_start(type="reindex", params={}, actor=operator, source="cli"))
        assert v1.state == JobState.SUCCEEDED, v1.error
        snap = finished(services.job_start(type="snapshot", params={}, actor=operator, source="cli"))
        old = IndexSnapshot.objects.get(pk=snap.result["snapshot_id"])
        entries_with_vectors(unit_rows(30, seed=42), prefix="r2")
        v2 = finished(services.job_start(type="reindex", params={}, actor=operator, source="cli"))
        assert index_manifest()["vectors"] == 100

        response = logged_in(operator).post(
            f"/api/snapshots/{old.pk}/restore", {"confirm": old.name}, content_type="application/json"
        )
        assert response.status_code == 201 and response.json()["type"] == "restore"
        job = finished(Job.objects.get(pk=response.json()["id"]))
        assert job.state == JobState.SUCCEEDED, job.error
        assert job.lock_key == "index"
        manifest = index_manifest()
        assert manifest["vectors"] == 70 and manifest["restored_from"] == old.name
        assert manifest["version"] > v2.result["version"]
        assert sorted(index_current().ids.tolist()) == sorted(first_ids)  # this process reloaded too
        backup = IndexSnapshot.objects.get(pk=job.result["backup_id"])
        assert backup.source == "restore-backup" and backup.manifest["vectors"] == 100
        assert backup.correlation_id == job.correlation_id
        row = AuditLog.objects.get(action="snapshot.restore", correlation_id=job.correlation_id)
        assert row.details["backup_name"] == backup.name and row.actor == operator

        out = io.StringIO()
        call_command("snapshots", "restore", str(backup.pk), "--confirm", backup.name, "--wait", stdout=out)
        assert index_manifest()["vectors"] == 100 and index_manifest()["restored_from"] == backup.name


@pytest.mark.django_db(transaction=True)
class RestoreDuringSearchTests:
    def test_searches_at_20_per_second_during_a_restore_answer_from_one_version_each(
        self, worker, web_server, operator
    ):
        _, raw = tokens.token_create(user=operator, source="cli")
        entries_embedded(TEXTS)
        entries_with_vectors(unit_rows(3000, seed=51), prefix="filler")
        assert reindex(operator).state == JobState.SUCCEEDED
        without_zebra = finished(services.job_start(type="snapshot", params={}, actor=operator, source="cli"))
        snapshot = IndexSnapshot.objects.get(pk=without_zebra.result["snapshot_id"])
        zebra = entries_embedded([ZEBRA])["d-zebra"]
        old = reindex(operator).result["version"]
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
            wait_for(lambda: len(answers) >= 10, message="ten searches before the restore")
            job = finished(restore_start(snapshot_id=snapshot.pk, confirm=snapshot.name, actor=operator, source="cli"))
            assert job.state == JobState.SUCCEEDED, job.error
            new = job.result["version"]
            wait_for(
                lambda: sum(a.get("index_version") == new for _, a in answers) >= 10,
                timeout=30,
                message="ten searches answered by the restored index",
            )
        finally:
            stop.set()
            thread.join(10)
        assert all(status == 200 for status, _ in answers), [a for s, a in answers if s != 200][:3]
        assert {a["index_version"] for _, a in answers} == {old, new}
        for _, answer in answers:
            ids = [hit["entry"]["id"] for hit in answer["results"]]
            # The served index before the restore has the zebra first; the restored one has no zebra.
            assert (ids[0] == zebra) if answer["index_version"] == old else (zebra not in ids)
