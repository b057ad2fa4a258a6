from __future__ import annotations

import pytest

from audit.models import AuditLog
from indexes.services.exporting import entries_export
from tests.indexes.factories import FakeContext

pytestmark = pytest.mark.django_db


@pytest.fixture
def export_name(settings) -> str:
    return entries_export(FakeContext(job_id=7), {"format": "csv"})["file"]


def download(client, name: str):
    return client.get(f"/api/exports/{name}")


class ExportDownloadTests:
    def test_operator_downloads_the_file_as_an_attachment_and_it_is_audited(
        self, client, operator, export_name, settings
    ):
        client.force_login(operator)
        response = download(client, export_name)
        assert response.status_code == 200
        assert response["Content-Disposition"] == f'attachment; filename="{export_name}"'
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert b"".join(response.streaming_content) == (settings.EXPORT_DIR / export_name).read_bytes()
        row = AuditLog.objects.get(action="export.download")
        assert (row.actor_username, row.target, row.source, row.outcome) == ("olivia", export_name, "web", "success")

    def test_superuser_may_download(self, client, superuser, export_name):
        client.force_login(superuser)
        assert download(client, export_name).status_code == 200

    def test_auditor_is_refused_and_the_refusal_audited(self, client, auditor, export_name):
        client.force_login(auditor)
        response = download(client, export_name)
        assert response.status_code == 403
        assert response.json() == {
            "error": "You do not have permission to do this; ask an administrator to add you to the right group."
        }
        assert AuditLog.objects.filter(action="permission.denied", actor_username="arthur").exists()
        assert not AuditLog.objects.filter(action="export.download").exists()

    def test_anonymous_is_asked_to_log_in(self, client, export_name):
        response = download(client, export_name)
        assert response.status_code == 401
        assert response.json() == {"error": "Log in, or send 'Authorization: Bearer <token>'."}

    def test_missing_export_is_a_json_404(self, client, operator):
        client.force_login(operator)
        response = download(client, "entries-20261122-153000-999.csv")
        assert response.status_code == 404
        assert response.json() == {
            "error": "There is no export named 'entries-20261122-153000-999.csv'; "
            "run an export job and use the download_url in its result."
        }

    @pytest.mark.parametrize(
        "name",
        [
            "../secret-key",
            "..%2Fsecret-key",
            "%2Fetc%2Fpasswd",
            "secret-key",
            ".entries-x.part",
            "entries-20261122-153000-1.csv/..",
        ],
    )
    def test_names_outside_the_pattern_are_not_found(self, client, operator, name):
        client.force_login(operator)
        response = download(client, name)
        assert response.status_code == 404
        assert response.json()["error"].startswith("There is no export named")

    def test_symlink_out_of_the_export_dir_is_not_followed(self, client, operator, settings):
        settings.EXPORT_DIR.mkdir(parents=True, exist_ok=True)
        link = settings.EXPORT_DIR / "entries-20261122-153000-5.csv"
        link.symlink_to(settings.DATA_DIR / "secret-key")
        client.force_login(operator)
        try:
            assert download(client, link.name).status_code == 404
        finally:
            link.unlink()
