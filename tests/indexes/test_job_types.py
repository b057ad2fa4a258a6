from __future__ import annotations

import pytest

from indexes.models import Entry
from operations import services
from operations.models import Job, JobState
from tests.conftest import wait_for
from tests.gates import advance, hold, wait_until_held
from tests.indexes.factories import WEB_CSV, csv_text, import_file, write_big_csv

pytestmark = pytest.mark.django_db(transaction=True)


def finished(job: Job) -> Job | None:
    job.refresh_from_db()
    return job if job.is_finished else None


def running_with_progress(job: Job) -> bool:
    job.refresh_from_db()
    return job.state == JobState.RUNNING and job.done > 0


def run(type: str, params: dict, actor) -> Job:
    job = services.job_start(type=type, params=params, actor=actor, source="cli")
    wait_for(lambda: finished(job), timeout=60, message=f"{type} job to finish")
    return job


class ImportJobTests:
    def test_import_from_the_import_dir_succeeds_on_a_real_worker(self, worker, operator):
        name = import_file(csv_text(("manual", "m1", "T", "B", "a,b", '{"k": 1}'), ("nope", "x", "", "", "", "")))
        job = run("import", {"path": name}, operator)
        assert (job.state, job.error) == (JobState.SUCCEEDED, "")
        assert job.result["created"] == 1
        assert job.result["errors"] == [{"row": 3, "error": "Unknown kind 'nope'; use experience, manual or document."}]
        assert job.phase == "importing"
        assert job.done == job.total > 0
        assert Entry.objects.get().tags == ["a", "b"]

    def test_import_from_a_url_succeeds_on_a_real_worker(self, worker, operator, http_base):
        job = run("import", {"url": f"{http_base}/entries.csv"}, operator)
        assert job.state == JobState.SUCCEEDED
        assert job.total == len(WEB_CSV)
        assert job.result["created"] == 2

    def test_file_that_is_not_csv_or_json_fails_the_job_with_a_sentence(self, worker, operator):
        job = run("import", {"path": import_file("just some words\n", suffix=".txt")}, operator)
        assert job.state == JobState.FAILED
        assert job.error.startswith("The file is not CSV or JSON that can be imported:")

    def test_empty_file_fails_the_job(self, worker, operator):
        job = run("import", {"path": import_file(b"")}, operator)
        assert (job.state, job.error) == (JobState.FAILED, "The file is empty.")

    def test_cancel_stops_an_import_leaving_whole_batches(self, worker, operator, settings):
        settings.IMPORT_DIR.mkdir(parents=True, exist_ok=True)
        write_big_csv(settings.IMPORT_DIR / "cancel-me.csv", rows=100_000)
        with hold("import", phase="importing"):
            job = services.job_start(type="import", params={"path": "cancel-me.csv"}, actor=operator, source="cli")
            wait_until_held(job.pk)
            advance(job.pk, until=lambda: running_with_progress(job) and Entry.objects.exists())
            wait_until_held(job.pk)
            services.job_cancel(job=job, actor=operator, source="cli")
        # Latency is measured in bench/job_engine.py; the state proves the import stopped before its end.
        wait_for(lambda: finished(job), timeout=15, message="the cancel to land")
        assert job.state == JobState.CANCELLED
        assert Entry.objects.count() % settings.CHLOPS_IMPORT_BATCH_SIZE == 0


class ExportJobTests:
    def test_export_then_download_through_the_api(self, worker, operator, auditor, client):
        run(
            "import",
            {"path": import_file(csv_text(("manual", "m1", "T", "B", "", ""), ("document", "d1", "", "", "", "")))},
            operator,
        )
        job = run("export", {"format": "jsonl", "kinds": "manual"}, operator)
        assert job.state == JobState.SUCCEEDED
        assert job.result["rows"] == 1
        client.force_login(auditor)
        assert client.get(job.result["download_url"]).status_code == 403
        client.force_login(operator)
        response = client.get(job.result["download_url"])
        assert response.status_code == 200
        body = b"".join(response.streaming_content)
        assert (
            body == b'{"kind": "manual", "external_id": "m1", "title": "T", "body": "B", "tags": [], "metadata": {}}\n'
        )
        assert len(body) == job.result["bytes"]
