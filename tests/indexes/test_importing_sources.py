from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from indexes.models import Entry
from indexes.services.importing import ImportFailed, entries_import
from operations.uploads import upload_store
from tests.indexes.factories import WEB_CSV as CSV
from tests.indexes.factories import FakeContext, import_file

pytestmark = pytest.mark.django_db


def import_url(url: str) -> dict:
    return entries_import(FakeContext(), {"url": url})


class UrlImportTests:
    def test_imports_a_csv_served_over_http_with_a_real_eta_total(self, http_base):
        ctx = FakeContext()
        result = entries_import(ctx, {"url": f"{http_base}/entries.csv"})
        assert result["created"] == 2
        assert ctx.calls[-1][:2] == (len(CSV), len(CSV))
        assert Entry.objects.get(external_id="u1").title == "From the web"

    def test_declared_size_over_the_cap_fails_before_reading(self, http_base, settings):
        settings.CHLOPS_URL_IMPORT_MAX_BYTES = 1000
        with pytest.raises(ImportFailed) as failed:
            import_url(f"{http_base}/big-declared.csv")
        assert failed.value.message == (
            f"The file at {http_base}/big-declared.csv is larger than the URL import limit of 1,000 bytes "
            "(CHLOPS_URL_IMPORT_MAX_BYTES); raise the limit, or put the file in the import directory."
        )

    def test_undeclared_size_over_the_cap_stops_while_streaming(self, http_base, settings):
        settings.CHLOPS_URL_IMPORT_MAX_BYTES = 1000
        settings.CHLOPS_IMPORT_BATCH_SIZE = 10_000
        with pytest.raises(ImportFailed) as failed:
            import_url(f"{http_base}/big-streamed.csv")
        assert "is larger than the URL import limit of 1,000 bytes" in failed.value.message
        assert not Entry.objects.exists()

    def test_http_error_is_reported(self, http_base):
        with pytest.raises(ImportFailed) as failed:
            import_url(f"{http_base}/gone.csv")
        assert failed.value.message == f"{http_base}/gone.csv answered 404 Not Found; check the URL and try again."

    def test_redirect_to_a_non_http_url_is_refused(self, http_base):
        with pytest.raises(ImportFailed) as failed:
            import_url(f"{http_base}/to-file")
        assert failed.value.message == (
            f"{http_base}/to-file redirects to file:///etc/passwd, which is not an http(s) URL; it cannot be imported."
        )

    def test_server_that_does_not_answer_times_out(self, http_base, settings):
        settings.CHLOPS_URL_IMPORT_TIMEOUT = 0.5
        with pytest.raises(ImportFailed) as failed:
            import_url(f"{http_base}/slow.csv")
        assert (
            failed.value.message
            == f"{http_base}/slow.csv did not answer within 0.5 seconds (CHLOPS_URL_IMPORT_TIMEOUT)."
        )

    def test_unreachable_host_is_reported(self):
        with pytest.raises(ImportFailed) as failed:
            import_url("http://127.0.0.1:9/entries.csv")
        assert failed.value.message.startswith("Could not reach http://127.0.0.1:9/entries.csv:")


class FileSourceTests:
    def test_imports_an_upload_by_its_id(self, operator):
        upload = upload_store(file=SimpleUploadedFile("entries.csv", CSV), actor=operator, source="api")
        assert entries_import(FakeContext(), {"upload": str(upload.pk)})["created"] == 2

    def test_upload_that_vanished_fails_with_a_sentence(self, operator):
        upload = upload_store(file=SimpleUploadedFile("entries.csv", CSV), actor=operator, source="api")
        upload.path.unlink()
        with pytest.raises(ImportFailed) as failed:
            entries_import(FakeContext(), {"upload": str(upload.pk)})
        assert failed.value.message == f"The uploaded file {upload.pk} no longer exists; upload it again."

    def test_path_is_checked_again_when_the_job_runs(self, settings):
        name = import_file(CSV)
        (settings.IMPORT_DIR / name).unlink()
        with pytest.raises(ImportFailed) as failed:
            entries_import(FakeContext(), {"path": name})
        assert failed.value.message == f"There is no file {name!r} in the import directory ({settings.IMPORT_DIR})."
