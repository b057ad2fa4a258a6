from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from audit.models import AuditLog
from operations.models import Job, JobHistory, JobState, Upload
from tests.conftest import BASE_DIR

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/ops/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def make_job(**fields) -> Job:
    fields.setdefault("type", "canary")
    fields.setdefault("params", {"seconds": 5})
    return Job.objects.create(**fields)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


class DashboardAccessTests:
    @pytest.mark.parametrize("who", ["operator", "auditor", "superuser"])
    def test_dashboard_renders_in_the_admin_for_people_allowed_to_see_it(self, request, who):
        client = logged_in(request.getfixturevalue(who))
        response = client.get(DASHBOARD)
        html = response.content.decode()
        assert response.status_code == 200
        assert 'id="latest-runs"' in html and 'id="jobs-table"' in html
        assert 'id="nav-sidebar"' in html  # the admin's own chrome: sidebar and breadcrumbs
        assert '<div class="breadcrumbs">' in html
        assert 'ws-connect="/ws/ops/?view=dashboard"' in html
        assert "vendor/htmx/htmx.min.js" in html and "vendor/htmx-ext-ws/ws.js" in html

    def test_other_staff_get_403_with_a_sentence_and_an_audit_row(self, plain_staff):
        response = logged_in(plain_staff).get(DASHBOARD)
        assert response.status_code == 403
        assert "Ask an administrator to add you to the Operators or Auditors group" in response.content.decode()
        row = AuditLog.objects.get(action="permission.denied")
        assert (row.actor, row.outcome, row.source, row.target) == (plain_staff, "denied", "web", DASHBOARD)

    def test_anonymous_visitors_are_sent_to_the_admin_login(self, client):
        response = client.get(DASHBOARD)
        assert response.status_code == 302
        assert response["Location"] == "/admin/login/?next=/admin/ops/"

    def test_anonymous_htmx_requests_are_redirected_client_side(self, client):
        response = client.get("/admin/ops/partials/latest-runs/", **HTMX)
        assert response["HX-Redirect"].startswith("/admin/login/?next=")

    def test_ops_redirects_to_the_dashboard(self, client):
        response = client.get("/ops/")
        assert response.status_code == 302 and response["Location"] == DASHBOARD

    def test_operations_is_listed_in_the_admin_index_and_its_sidebar(self, operator):
        client = logged_in(operator)
        index = client.get("/admin/").content.decode()
        assert re.search(r'<a href="/admin/ops/"[^>]*>Dashboard</a>', index)
        assert index.count(">Operations</a>") == 1  # one section: the dashboard beside jobs and uploads
        sidebar = client.get(DASHBOARD).content.decode()
        assert re.search(r'<tr class="model-dashboard current-model">', sidebar)

    def test_plain_staff_see_no_operations_entry_in_the_index(self, plain_staff):
        assert "/admin/ops/" not in logged_in(plain_staff).get("/admin/").content.decode()


class AuditorTests:
    def test_auditor_sees_jobs_but_no_run_cancel_or_retry_controls(self, auditor):
        running = make_job(state=JobState.RUNNING, total=10, done=4)
        failed = make_job(state=JobState.FAILED, error="boom")
        html = logged_in(auditor).get(DASHBOARD).content.decode()
        assert f'id="job-{running.pk}"' in html and f'id="job-{failed.pk}"' in html
        assert 'id="run-card"' not in html
        assert "ops-cancel" not in html and "ops-retry" not in html and ">Actions<" not in html

    @pytest.mark.parametrize(
        "path",
        [
            "/admin/ops/run/canary/",
            "/admin/ops/run/import-upload/",
            "/admin/ops/jobs/{id}/cancel/",
            "/admin/ops/jobs/{id}/retry/",
        ],
    )
    def test_auditor_posting_to_a_control_gets_403_and_an_audit_row(self, auditor, path):
        job = make_job(state=JobState.FAILED)
        response = logged_in(auditor).post(path.format(id=job.pk), {"canary-seconds": "1"}, **HTMX)
        assert response.status_code == 403
        assert "You do not have permission to run, cancel or retry jobs" in response.content.decode()
        assert AuditLog.objects.filter(action="permission.denied", actor=auditor, outcome="denied").count() == 1
        assert Job.objects.count() == 1 and Job.objects.get().state == JobState.FAILED


class RunCardTests:
    def test_starting_a_canary_from_the_dashboard_creates_a_web_job(self, operator):
        response = logged_in(operator).post("/admin/ops/run/canary/", {"canary-seconds": "20"}, **HTMX)
        job = Job.objects.get()
        assert response.status_code == 200
        assert (job.type, job.params, job.source, job.requested_by) == ("canary", {"seconds": 20.0}, "web", operator)
        assert f'Started <a href="/admin/ops/jobs/{job.pk}/">canary job #{job.pk}</a>' in response.content.decode()
        assert json.loads(response["HX-Trigger"]) == {
            "ops:jobs-changed": {"id": job.pk},
            "chlops:toast": {"level": "success", "message": f"Started canary job #{job.pk}."},
        }

    def test_a_second_start_says_already_running_with_a_link_to_the_job(self, operator):
        client = logged_in(operator)
        client.post("/admin/ops/run/canary/", {"canary-seconds": "20"}, **HTMX)
        first = Job.objects.get()
        response = client.post("/admin/ops/run/canary/", {"canary-seconds": "5"}, **HTMX)
        html = response.content.decode()
        assert response.status_code == 409
        assert f"Already running: canary job #{first.pk} (queued)" in html
        assert f'<a href="/admin/ops/jobs/{first.pk}/">Open canary job #{first.pk}</a>' in html
        assert Job.objects.count() == 1

    def test_invalid_parameters_are_shown_beside_the_field(self, operator):
        response = logged_in(operator).post("/admin/ops/run/canary/", {"canary-seconds": "-3"}, **HTMX)
        assert response.status_code == 400
        assert "Ensure this value is greater than or equal to 0" in response.content.decode()
        assert not Job.objects.exists()

    def test_a_path_outside_the_import_directory_is_refused_inline(self, operator):
        response = logged_in(operator).post(
            "/admin/ops/run/import-path/", {"import-path-path": "../../etc/passwd"}, **HTMX
        )
        assert response.status_code == 400
        assert "The path must lie inside the import directory" in response.content.decode()
        assert not Job.objects.exists()

    def test_an_url_that_is_not_http_is_refused_inline(self, operator):
        response = logged_in(operator).post(
            "/admin/ops/run/import-url/", {"import-url-url": "file:///etc/passwd"}, **HTMX
        )
        assert response.status_code == 400
        assert "Only http:// and https:// URLs can be imported" in response.content.decode()

    def test_an_export_of_an_unknown_kind_is_refused_inline(self, operator):
        response = logged_in(operator).post(
            "/admin/ops/run/export/", {"export-format": "csv", "export-kinds": "poems"}, **HTMX
        )
        assert response.status_code == 400
        assert "Unknown kind(s): poems." in response.content.decode()

    def test_an_export_starts_with_its_format_and_kinds(self, operator):
        logged_in(operator).post("/admin/ops/run/export/", {"export-format": "jsonl", "export-kinds": "manual"}, **HTMX)
        assert Job.objects.get().params == {"format": "jsonl", "kinds": ["manual"]}

    def test_an_uploaded_file_is_stored_and_imported(self, operator):
        content = b"kind,external_id,title,body\nmanual,m1,Title,Body\n"
        file = SimpleUploadedFile("entries.csv", content, "text/csv")
        response = logged_in(operator).post("/admin/ops/run/import-upload/", {"import-upload-file": file}, **HTMX)
        upload = Upload.objects.get()
        job = Job.objects.get()
        assert response.status_code == 200
        assert (upload.name, upload.size) == ("entries.csv", len(content))
        assert (job.type, job.params) == ("import", {"upload": str(upload.pk)})

    def test_an_upload_over_the_cap_is_refused_inline_and_not_stored(self, operator, settings):
        settings.CHLOPS_UPLOAD_MAX_BYTES = 100 * 1024
        file = SimpleUploadedFile("big.csv", b"x" * (300 * 1024), "text/csv")
        response = logged_in(operator).post("/admin/ops/run/import-upload/", {"import-upload-file": file}, **HTMX)
        assert response.status_code == 413
        assert "The file is larger than the upload limit of 100.0\xa0KB" in response.content.decode()
        assert not Upload.objects.exists() and not Job.objects.exists()

    def test_a_missing_file_is_named_inline(self, operator):
        response = logged_in(operator).post("/admin/ops/run/import-upload/", {}, **HTMX)
        assert response.status_code == 400
        assert "This field is required." in response.content.decode()

    def test_queue_down_answers_503_with_its_sentence(self, operator, settings):
        settings.REDIS_URL = "unix:///nonexistent/redis.sock"
        response = logged_in(operator).post("/admin/ops/run/canary/", {"canary-seconds": "1"}, **HTMX)
        assert response.status_code == 503
        assert "The job queue (Redis) is not answering, so the job was not started." in response.content.decode()

    def test_without_htmx_the_same_post_answers_with_the_card(self, operator):
        response = logged_in(operator).post("/admin/ops/run/canary/", {"canary-seconds": "1"})
        assert response.status_code == 200 and Job.objects.count() == 1


class CancelRetryTests:
    def test_cancelling_a_queued_job_cancels_it_and_leaves_the_row_to_the_live_update(self, operator):
        job = make_job()
        response = logged_in(operator).post(f"/admin/ops/jobs/{job.pk}/cancel/", **HTMX, HTTP_HX_TARGET=f"job-{job.pk}")
        job.refresh_from_db()
        assert response.status_code == 204 and job.state == JobState.CANCELLED
        assert json.loads(response["HX-Trigger"]) == {
            "ops:jobs-changed": {"id": job.pk},
            "chlops:toast": {"level": "success", "message": f"Cancelled canary job #{job.pk}."},
        }

    def test_cancelling_a_running_job_asks_it_to_stop(self, operator):
        job = make_job(state=JobState.RUNNING)
        logged_in(operator).post(f"/admin/ops/jobs/{job.pk}/cancel/", **HTMX)
        job.refresh_from_db()
        assert job.state == JobState.CANCELLING and job.cancel_requested_at is not None

    def test_cancelling_a_finished_job_says_why_inline_with_409(self, operator):
        job = make_job(state=JobState.SUCCEEDED, finished_at=timezone.now())
        response = logged_in(operator).post(f"/admin/ops/jobs/{job.pk}/cancel/", **HTMX)
        assert response.status_code == 409
        assert f"canary job #{job.pk} has already succeeded; there is nothing to cancel." in response.content.decode()

    def test_a_refused_cancel_on_the_detail_page_answers_with_the_detail_block(self, operator):
        job = make_job(state=JobState.FAILED)
        response = logged_in(operator).post(
            f"/admin/ops/jobs/{job.pk}/cancel/", **HTMX, HTTP_HX_TARGET=f"job-{job.pk}-detail"
        )
        html = response.content.decode()
        assert response.status_code == 409
        assert html.strip().startswith(f'<div id="job-{job.pk}-detail"') and "has already failed" in html

    def test_retrying_a_failed_job_starts_a_linked_job(self, operator):
        job = make_job(state=JobState.FAILED, error="boom")
        response = logged_in(operator).post(f"/admin/ops/jobs/{job.pk}/retry/", **HTMX)
        retry = Job.objects.get(retry_of=job)
        assert (retry.state, retry.source, retry.params, retry.correlation_id) == (
            "queued",
            "web",
            job.params,
            job.correlation_id,
        )
        assert (
            f'Retried as <a href="/admin/ops/jobs/{retry.pk}/">canary job #{retry.pk}</a>' in response.content.decode()
        )

    def test_retrying_a_succeeded_job_is_refused_inline(self, operator):
        job = make_job(state=JobState.SUCCEEDED)
        response = logged_in(operator).post(f"/admin/ops/jobs/{job.pk}/retry/", **HTMX)
        assert response.status_code == 409
        assert "only failed or cancelled jobs can be retried" in response.content.decode()

    def test_retry_while_the_lock_is_held_links_to_the_running_job(self, operator):
        failed = make_job(state=JobState.FAILED)
        running = make_job(state=JobState.RUNNING, lock_key="canary")
        response = logged_in(operator).post(f"/admin/ops/jobs/{failed.pk}/retry/", **HTMX)
        assert response.status_code == 409
        assert f'<a href="/admin/ops/jobs/{running.pk}/">Open canary job #{running.pk}</a>' in response.content.decode()

    def test_unknown_job_is_404(self, operator):
        assert logged_in(operator).post("/admin/ops/jobs/999999/cancel/", **HTMX).status_code == 404

    def test_get_is_not_allowed_on_controls(self, operator):
        job = make_job()
        assert logged_in(operator).get(f"/admin/ops/jobs/{job.pk}/cancel/").status_code == 405


class CsrfTests:
    @pytest.mark.parametrize(
        "path", ["/admin/ops/run/canary/", "/admin/ops/run/import-upload/", "/admin/ops/jobs/{id}/cancel/"]
    )
    def test_posts_without_a_csrf_token_are_refused(self, operator, path):
        job = make_job(state=JobState.RUNNING)
        client = Client(enforce_csrf_checks=True)
        client.force_login(operator)
        response = client.post(path.format(id=job.pk), {"canary-seconds": "1"})
        assert response.status_code == 403
        job.refresh_from_db()
        assert Job.objects.count() == 1 and job.state == JobState.RUNNING

    def test_posts_with_the_page_token_are_accepted(self, operator):
        client = Client(enforce_csrf_checks=True)
        client.force_login(operator)
        page = client.get(DASHBOARD).content.decode()
        token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
        response = client.post("/admin/ops/run/canary/", {"canary-seconds": "1"}, HTTP_X_CSRFTOKEN=token, **HTMX)
        assert response.status_code == 200 and Job.objects.count() == 1


class JobsTableTests:
    def test_jobs_are_listed_newest_first_25_to_a_page_with_a_link_to_older(self, operator):
        jobs = [make_job(state=JobState.SUCCEEDED) for _ in range(30)]
        client = logged_in(operator)
        html = client.get(DASHBOARD).content.decode()
        ids = [int(i) for i in re.findall(r'<tr id="job-(\d+)"', html)]
        assert ids == [j.pk for j in reversed(jobs)][:25]
        older = re.search(r'href="/admin/ops/\?before=(\d+)">Older', html).group(1)
        rest = client.get(f"/admin/ops/partials/jobs-table/?before={older}").content.decode()
        assert [int(i) for i in re.findall(r'<tr id="job-(\d+)"', rest)] == [j.pk for j in reversed(jobs)][25:]

    def test_filters_by_state_and_type(self, operator):
        failed = make_job(state=JobState.FAILED)
        make_job(state=JobState.SUCCEEDED)
        make_job(type="export", state=JobState.FAILED, params={})
        html = logged_in(operator).get("/admin/ops/partials/jobs-table/?state=failed&type=canary").content.decode()
        assert re.findall(r'<tr id="job-(\d+)"', html) == [str(failed.pk)]

    def test_invalid_filters_are_ignored(self, operator):
        make_job()
        response = logged_in(operator).get("/admin/ops/?state=bogus&type=nope&before=x")
        assert response.status_code == 200 and len(re.findall(r'<tr id="job-', response.content.decode())) == 1

    def test_state_is_text_and_icon_with_progress_and_eta(self, operator):
        job = make_job(state=JobState.RUNNING, done=25, total=100, rate=5.0, phase="ticking")
        html = logged_in(operator).get(DASHBOARD).content.decode()
        row = re.search(rf'<tr id="job-{job.pk}".*?</tr>', html, re.S).group(0)
        assert (
            '<span class="ops-state-icon" aria-hidden="true">▶</span> <span class="ops-state-text">running</span>'
            in row
        )
        assert '<progress max="100" value="25.0"' in row
        assert "ticking" in row and "about 15 s left" in row
        assert "ops-cancel" in row and 'hx-confirm="Cancel canary job' in row

    def test_unknown_total_shows_no_eta(self, operator):
        job = make_job(state=JobState.RUNNING, done=25, total=None, rate=5.0)
        html = logged_in(operator).get(DASHBOARD).content.decode()
        row = re.search(rf'<tr id="job-{job.pk}".*?</tr>', html, re.S).group(0)
        assert "left" not in row and "25 done" in row

    def test_latest_runs_shows_each_registered_type(self, operator):
        make_job(state=JobState.SUCCEEDED, requested_by=operator, started_at=timezone.now(), finished_at=timezone.now())
        html = logged_in(operator).get("/admin/ops/partials/latest-runs/").content.decode()
        assert "Canary" in html and "olivia" in html and "succeeded" in html
        assert "Never run" in html  # import and export have no run yet


class JobDetailTests:
    def test_detail_shows_fields_result_download_error_and_history(self, operator):
        job = make_job(
            type="export",
            params={"format": "csv"},
            state=JobState.SUCCEEDED,
            result={"rows": 3, "download_url": "/api/exports/x.csv"},
            requested_by=operator,
        )
        JobHistory.objects.create(job=job, kind="transition", state="queued", actor=operator)
        JobHistory.objects.create(job=job, kind="phase", phase="writing", state="running")
        html = logged_in(operator).get(f"/admin/ops/jobs/{job.pk}/").content.decode()
        assert f'<div id="job-{job.pk}-detail"' in html
        assert '<a class="button ops-download" href="/api/exports/x.csv" download>Download the export</a>' in html
        assert "&quot;rows&quot;: 3" in html and str(job.correlation_id) in html
        assert "<strong>queued</strong>" in html and "phase <strong>writing</strong>" in html and "by olivia" in html
        assert f'ws-connect="/ws/ops/?job={job.pk}"' in html

    def test_detail_partial_shows_the_error(self, auditor):
        job = make_job(state=JobState.FAILED, error="worker lost: no heartbeat")
        html = logged_in(auditor).get(f"/admin/ops/jobs/{job.pk}/partial/").content.decode()
        assert "worker lost: no heartbeat" in html and "ops-retry" not in html

    def test_unknown_job_is_404(self, operator):
        assert logged_in(operator).get("/admin/ops/jobs/424242/").status_code == 404


# Renders what a web process renders, then names the heavy libraries it loaded on the way.
RENDER_EVERYTHING = """
import json, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from operations import cards, fragments
client = Client(SERVER_NAME="localhost")
client.force_login(get_user_model().objects.get(pk=int(sys.argv[1])))
pages = ["/admin/ops/", "/admin/operations/job/", *(f"/admin/ops/partials/card/{card.name}/" for card in cards.all_cards())]
statuses = {page: client.get(page).status_code for page in pages}
fragments.snapshot(seq=0, can_run=True, filters=fragments.JobFilters())
print(json.dumps({"statuses": statuses, "loaded": sorted({name.split(".")[0] for name in sys.modules})}))
"""


class DashboardImportsTests:
    @pytest.mark.django_db(transaction=True)
    def test_drawing_the_dashboard_and_every_card_loads_no_model(self, superuser, stack_env):
        make_job(state=JobState.SUCCEEDED)  # a superuser sees every page's cards, the Settings page's included
        # A fresh process: what other tests imported into this one must not hide what rendering imports.
        ran = subprocess.run(
            [sys.executable, "-c", RENDER_EVERYTHING, str(superuser.pk)],
            cwd=BASE_DIR, env=stack_env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        answer = json.loads(ran.stdout.strip().splitlines()[-1])
        assert set(answer["statuses"].values()) == {200} and len(answer["statuses"]) > 3
        assert not {"sklearn", "faiss", "torch", "sentence_transformers"} & set(answer["loaded"])
