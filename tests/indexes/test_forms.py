from __future__ import annotations

import json

import pytest

from operations.models import Job

pytestmark = pytest.mark.django_db


def start(client, type: str, params: dict):
    return client.post("/api/jobs", data=json.dumps({"type": type, "params": params}), content_type="application/json")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


class ImportParamsTests:
    @pytest.mark.parametrize("path", ["../secret-key", "/etc/passwd", "a/../../secret-key"])
    def test_path_escaping_the_import_dir_is_refused_before_any_job(self, operator_client, settings, path):
        response = start(operator_client, "import", {"path": path})
        assert response.status_code == 400
        message = f"The path must lie inside the import directory ({settings.IMPORT_DIR}); {path!r} does not."
        assert response.json()["fields"] == {"path": [message]}
        assert message in response.json()["error"]
        assert not Job.objects.exists()

    def test_symlink_out_of_the_import_dir_is_refused(self, operator_client, settings):
        settings.IMPORT_DIR.mkdir(parents=True, exist_ok=True)
        link = settings.IMPORT_DIR / "innocent.csv"
        link.symlink_to(settings.DATA_DIR / "secret-key")
        try:
            response = start(operator_client, "import", {"path": "innocent.csv"})
        finally:
            link.unlink()
        assert response.status_code == 400
        assert list(response.json()["fields"]) == ["path"]
        assert not Job.objects.exists()

    @pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/e.csv", "javascript:alert(1)", "http://"])
    def test_url_that_is_not_http_is_refused_before_any_job(self, operator_client, url):
        response = start(operator_client, "import", {"url": url})
        assert response.status_code == 400
        assert response.json()["fields"] == {"url": [f"Only http:// and https:// URLs can be imported, not {url!r}."]}
        assert not Job.objects.exists()

    def test_missing_file_in_the_import_dir_is_refused(self, operator_client, settings):
        response = start(operator_client, "import", {"path": "nope.csv"})
        assert response.status_code == 400
        assert response.json()["fields"] == {
            "path": [f"There is no file 'nope.csv' in the import directory ({settings.IMPORT_DIR})."]
        }

    def test_unknown_upload_is_refused(self, operator_client):
        response = start(operator_client, "import", {"upload": "8d6f3a9e-0000-4000-8000-000000000000"})
        assert response.status_code == 400
        assert response.json()["fields"] == {"upload": ["No uploaded file has this id; upload the file again."]}

    @pytest.mark.parametrize("params", [{}, {"url": "https://example.com/a.csv", "path": "x.csv"}])
    def test_exactly_one_source_is_required(self, operator_client, params, settings):
        settings.IMPORT_DIR.mkdir(parents=True, exist_ok=True)
        (settings.IMPORT_DIR / "x.csv").write_text("kind,external_id\n")
        response = start(operator_client, "import", params)
        assert response.status_code == 400
        assert response.json()["fields"] == {"__all__": ["Give exactly one source: an upload, a path or a URL."]}


class ExportParamsTests:
    def test_unknown_kind_is_refused(self, operator_client):
        response = start(operator_client, "export", {"kinds": "manual,recipes"})
        assert response.status_code == 400
        assert response.json()["fields"] == {
            "kinds": ["Unknown kind(s): recipes. Known: experience, manual, document."]
        }

    def test_unknown_format_is_refused(self, operator_client):
        response = start(operator_client, "export", {"format": "xml"})
        assert response.status_code == 400
        assert list(response.json()["fields"]) == ["format"]
