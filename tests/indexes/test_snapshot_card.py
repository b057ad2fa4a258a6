from __future__ import annotations

import io
import zipfile

import pytest
from django.test import Client

from audit.models import AuditLog
from indexes.models import IndexSnapshot
from indexes.services.reindex import index_rebuild
from indexes.snapshots.services import snapshot_save
from indexes.snapshots.storage import snapshots_dir
from operations.models import Job, JobState
from tests.conftest import wait_for
from tests.indexes.index_factories import RunCtx, entries_with_vectors, index_dir_isolated, unit_rows

CARD_URL = "/admin/ops/partials/card/snapshots-card/"


@pytest.fixture
def own_index_dir(settings, tmp_path):
    yield from index_dir_isolated(settings, tmp_path)


@pytest.fixture
def snapshot(own_index_dir, db, operator) -> IndexSnapshot:
    entries_with_vectors(unit_rows(25, seed=8), prefix="card")
    index_rebuild(RunCtx(), {})
    return snapshot_save(source="job", actor=operator, correlation_id=None)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def named(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


class SnapshotCardTests:
    def test_auditors_see_the_list_without_buttons_or_download_links(self, snapshot, auditor):
        html = logged_in(auditor).get("/admin/ops/").content.decode()
        assert snapshot.name in html and 'id="snapshots-card"' in html
        assert 'data-action="snapshot"' not in html and 'data-action="restore"' not in html
        assert 'data-action="delete-snapshot"' not in html and "/download" not in html
        assert logged_in(auditor).post(f"/admin/ops/index/snapshots/{snapshot.pk}/delete/").status_code == 403

    def test_operators_see_download_create_upload_restore_and_delete(self, snapshot, operator):
        html = logged_in(operator).get(CARD_URL).content.decode()
        assert f'href="/api/snapshots/{snapshot.pk}/download"' in html
        for action in ("snapshot", "upload-snapshot", "restore", "delete-snapshot"):
            assert f'data-action="{action}"' in html
        assert f"Type <code>{snapshot.name}</code> to restore it" in html
        assert f'hx-confirm="Delete the snapshot {snapshot.name}? This cannot be undone."' in html

    def test_restore_with_a_wrong_name_is_refused_in_the_card(self, snapshot, operator):
        response = logged_in(operator).post(
            f"/admin/ops/index/snapshots/{snapshot.pk}/restore/", {"confirm": "oops"}, HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 400
        assert f"To restore it, type the snapshot&#x27;s name exactly: {snapshot.name}" in response.content.decode()
        assert not Job.objects.filter(type="restore").exists()

    def test_delete_removes_the_snapshot_and_audits_it(self, snapshot, operator):
        response = logged_in(operator).post(f"/admin/ops/index/snapshots/{snapshot.pk}/delete/", HTTP_HX_REQUEST="true")
        assert response.status_code == 200 and f"Deleted the snapshot {snapshot.name}." in response.content.decode()
        assert not IndexSnapshot.objects.exists()
        assert AuditLog.objects.filter(action="snapshot.delete", source="web", target=snapshot.name).exists()

    def test_upload_from_the_card_adds_a_good_zip_and_explains_a_refusal(self, snapshot, operator):
        data = (snapshots_dir() / snapshot.path).read_bytes()
        client = logged_in(operator)
        ok = client.post(
            "/admin/ops/index/snapshots/upload/", {"file": named(data, "mine.zip")}, HTTP_HX_REQUEST="true"
        )
        assert ok.status_code == 200 and "Uploaded as snapshot snap-" in ok.content.decode()
        assert IndexSnapshot.objects.filter(source="upload").count() == 1
        bad = io.BytesIO()
        with zipfile.ZipFile(bad, "w") as archive:
            archive.writestr("../escape", b"x")
        refused = client.post(
            "/admin/ops/index/snapshots/upload/", {"file": named(bad.getvalue(), "bad.zip")}, HTTP_HX_REQUEST="true"
        )
        assert refused.status_code == 400
        assert "points outside the archive (path traversal)." in refused.content.decode()
        assert not list((snapshots_dir() / "staging").iterdir())

    def test_the_upload_checks_the_csrf_token(self, snapshot, operator):
        client = Client(enforce_csrf_checks=True)
        client.force_login(operator)
        response = client.post("/admin/ops/index/snapshots/upload/", {"file": named(b"x", "a.zip")})
        assert response.status_code == 403
        assert not list((snapshots_dir() / "staging").iterdir())


@pytest.mark.django_db(transaction=True)
class SnapshotCardJobTests:
    def test_the_snapshot_button_starts_the_job(self, worker, operator):
        entries_with_vectors(unit_rows(25, seed=9), prefix="btn")
        index_rebuild(RunCtx(), {})
        response = logged_in(operator).post("/admin/ops/index/snapshots/create/", HTTP_HX_REQUEST="true")
        assert response.status_code == 200 and "Started" in response.content.decode()
        job = Job.objects.get(type="snapshot")
        assert job.source == "web" and job.requested_by == operator
        wait_for(lambda: job.refresh_from_db() or job.is_finished, timeout=60, message="the snapshot job")
        assert job.state == JobState.SUCCEEDED, job.error
