from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client

from audit.models import AuditLog
from indexes.models import IndexSnapshot
from indexes.services.reindex import index_rebuild
from indexes.snapshots.services import NothingToSnapshot, snapshot_save
from indexes.snapshots.storage import snapshots_dir
from indexes.store import index_manifest
from operations import services
from operations.models import Job, JobState
from operations.runner import JobCancelled
from tests.conftest import wait_for
from tests.indexes.index_factories import RunCtx, entries_with_vectors, index_dir_isolated, unit_rows


@pytest.fixture
def own_index_dir(settings, tmp_path):
    yield from index_dir_isolated(settings, tmp_path)


def finished(job: Job) -> Job:
    wait_for(lambda: (job.refresh_from_db() or job.is_finished), timeout=120, message=f"the {job.type} job to finish")
    return job


def built_index(n: int = 60, seed: int = 3) -> dict:
    entries_with_vectors(unit_rows(n, seed=seed), prefix=f"s{seed}")
    index_rebuild(RunCtx(), {})
    return index_manifest()


class SnapshotSaveTests:
    def test_saves_served_files_and_a_manifest_with_checksums(self, own_index_dir, db, operator):
        served = built_index()
        snapshot = snapshot_save(source="job", actor=operator, correlation_id=None)
        assert snapshot.name.startswith("snap-") and snapshot.name.endswith(f"-v{served['version']}")
        path = snapshots_dir() / snapshot.path
        with zipfile.ZipFile(path) as archive:
            names = sorted(archive.namelist())
            manifest = json.loads(archive.read("manifest.json"))
            for name, facts in manifest["files"].items():
                data = archive.read(name)
                assert hashlib.sha256(data).hexdigest() == facts["sha256"] and len(data) == facts["size"]
        assert names == ["ids.npy", "index.faiss", "kinds.npy", "manifest.json"]
        assert manifest["dimension"] == 384 and manifest["vectors"] == 60 and manifest["embedder"] == "hashing-384"
        assert manifest["index_type"] == "Flat" and manifest["created_by"] == operator.username
        assert snapshot.manifest == manifest and snapshot.size_bytes == path.stat().st_size
        assert not list(snapshots_dir().glob(".tmp-*"))

    def test_before_the_first_build_there_is_nothing_to_snapshot(self, own_index_dir, db, operator):
        with pytest.raises(NothingToSnapshot) as caught:
            snapshot_save(source="job", actor=operator, correlation_id=None)
        assert caught.value.message == "There is no served index to snapshot yet; run the reindex job first."

    def test_a_cancel_mid_copy_leaves_no_file_and_no_row(self, own_index_dir, db, operator):
        built_index()
        before = sorted(p.name for p in snapshots_dir().iterdir())

        def cancel() -> None:
            raise JobCancelled

        with pytest.raises(JobCancelled):
            snapshot_save(source="job", actor=operator, correlation_id=None, checkpoint=cancel)
        assert sorted(p.name for p in snapshots_dir().iterdir()) == before
        assert not IndexSnapshot.objects.exists()


@pytest.mark.django_db(transaction=True)
class SnapshotJobTests:
    def test_the_snapshot_job_on_the_worker_saves_audits_and_holds_the_index_lock(self, worker, operator):
        entries_with_vectors(unit_rows(80, seed=21), prefix="sj")
        build = finished(services.job_start(type="reindex", params={}, actor=operator, source="cli"))
        assert build.state == JobState.SUCCEEDED, build.error
        job = services.job_start(type="snapshot", params={}, actor=operator, source="cli")
        assert job.lock_key == "index"
        finished(job)
        assert job.state == JobState.SUCCEEDED, job.error
        snapshot = IndexSnapshot.objects.get(pk=job.result["snapshot_id"])
        assert snapshot.correlation_id == job.correlation_id and snapshot.created_by == operator
        assert snapshot.manifest["version"] == build.result["version"] and snapshot.manifest["vectors"] == 80
        assert (snapshots_dir() / snapshot.path).is_file()
        row = AuditLog.objects.get(action="snapshot.create", correlation_id=job.correlation_id)
        assert row.target == snapshot.name and row.actor == operator
        assert str(settings.DATA_DIR) in str(snapshots_dir())


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


class SnapshotApiTests:
    def test_operators_list_download_and_delete_snapshots_with_audit(self, own_index_dir, db, operator):
        built_index()
        snapshot = snapshot_save(source="job", actor=operator, correlation_id=None)
        client = logged_in(operator)
        listing = client.get("/api/snapshots").json()["results"]
        assert [row["name"] for row in listing] == [snapshot.name]
        assert listing[0]["vectors"] == 60 and listing[0]["dimension"] == 384
        response = client.get(f"/api/snapshots/{snapshot.pk}/download")
        assert response.status_code == 200 and response["Content-Type"] == "application/zip"
        assert f'filename="{snapshot.name}.zip"' in response["Content-Disposition"]
        body = b"".join(response.streaming_content)
        assert body == (snapshots_dir() / snapshot.path).read_bytes()
        assert AuditLog.objects.filter(action="snapshot.download", target=snapshot.name).exists()
        deleted = client.delete(f"/api/snapshots/{snapshot.pk}")
        assert deleted.status_code == 200 and deleted.json()["name"] == snapshot.name
        assert not IndexSnapshot.objects.exists() and not (snapshots_dir() / snapshot.path).exists()
        assert AuditLog.objects.filter(action="snapshot.delete", target=snapshot.name, actor=operator).exists()

    def test_an_unknown_snapshot_is_404_with_a_sentence(self, own_index_dir, db, operator):
        response = logged_in(operator).get("/api/snapshots/999/download")
        assert response.status_code == 404
        assert response.json() == {"error": "There is no snapshot with id 999; list them with `snapshots list`."}

    def test_auditors_may_list_but_not_download_create_or_delete(self, own_index_dir, db, operator, auditor):
        built_index()
        snapshot = snapshot_save(source="job", actor=operator, correlation_id=None)
        client = logged_in(auditor)
        assert client.get("/api/snapshots").status_code == 200
        assert client.get(f"/api/snapshots/{snapshot.pk}/download").status_code == 403
        assert client.post("/api/snapshots").status_code == 403
        assert client.delete(f"/api/snapshots/{snapshot.pk}").status_code == 403
        assert IndexSnapshot.objects.filter(pk=snapshot.pk).exists()


class SnapshotCommandTests:
    def test_list_and_export_write_what_an_operator_needs(self, own_index_dir, db, operator, tmp_path):
        out = io.StringIO()
        call_command("snapshots", "list", stdout=out)
        assert "No snapshots yet" in out.getvalue()
        built_index()
        snapshot = snapshot_save(source="job", actor=operator, correlation_id=None)
        out = io.StringIO()
        call_command("snapshots", "list", "--json", stdout=out)
        assert json.loads(out.getvalue())[0]["name"] == snapshot.name
        target = tmp_path / "copy.zip"
        out = io.StringIO()
        call_command("snapshots", "export", str(snapshot.pk), str(target), stdout=out)
        assert target.read_bytes() == (snapshots_dir() / snapshot.path).read_bytes()
        assert AuditLog.objects.filter(action="snapshot.export", target=snapshot.name).exists()

    def test_export_of_an_unknown_id_exits_3_with_a_sentence(self, own_index_dir, db, tmp_path):
        with pytest.raises(CommandError) as caught:
            call_command("snapshots", "export", "42", str(tmp_path / "x.zip"))
        assert caught.value.returncode == 3
        assert str(caught.value) == "There is no snapshot with id 42; list them with `snapshots list`."


@pytest.mark.django_db(transaction=True)
class SnapshotCreateTests:
    def test_api_post_and_command_create_wait_run_the_snapshot_job(self, worker, operator):
        entries_with_vectors(unit_rows(50, seed=31), prefix="sc")
        assert (
            finished(services.job_start(type="reindex", params={}, actor=operator, source="cli")).state == "succeeded"
        )
        response = logged_in(operator).post("/api/snapshots")
        assert response.status_code == 201 and response.json()["type"] == "snapshot"
        job = finished(Job.objects.get(pk=response.json()["id"]))
        assert job.state == JobState.SUCCEEDED, job.error
        out = io.StringIO()
        call_command("snapshots", "create", "--wait", "--json", stdout=out)
        assert json.loads(out.getvalue())["state"] == "succeeded"
        assert IndexSnapshot.objects.count() == 2
