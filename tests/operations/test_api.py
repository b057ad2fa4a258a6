from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.test import Client

from audit.models import AuditLog
from operations import services, tokens
from operations.models import Job, JobState, Upload
from tests.gates import hold
from tests.operations.factories import job_create
from tests.sessions import browser_login, csrf_header

pytestmark = pytest.mark.django_db(transaction=True)


def post_json(client: Client, url: str, body: object, **extra):
    return client.post(url, data=json.dumps(body), content_type="application/json", **extra)


@pytest.fixture
def api(operator) -> Client:
    client = Client()
    client.force_login(operator)
    return client


class JobStartTests:
    def test_start_answers_201_with_the_job(self, api):
        response = post_json(api, "/api/jobs", {"type": "canary", "params": {"seconds": 0}})
        assert response.status_code == 201
        body = response.json()
        assert body["type"] == "canary" and body["state"] == "queued" and body["lock_key"] == "canary"
        assert body["requested_by"] == "olivia" and body["source"] == "api"
        assert set(body["progress"]) == {"done", "total", "percent", "eta_seconds"}
        assert AuditLog.objects.filter(action="job.start", correlation_id=body["correlation_id"]).exists()

    def test_unknown_type_is_400_naming_the_known_types(self, api):
        response = post_json(api, "/api/jobs", {"type": "reticulate"})
        assert response.status_code == 400
        assert "Unknown job type 'reticulate'" in response.json()["error"]
        assert "canary" in response.json()["error"]

    def test_invalid_params_are_400_with_fields(self, api):
        response = post_json(api, "/api/jobs", {"type": "canary", "params": {"seconds": "soon"}})
        assert response.status_code == 400
        assert response.json()["fields"] == {"seconds": ["Enter a number."]}
        assert not Job.objects.exists()

    def test_malformed_json_is_400(self, api):
        response = api.post("/api/jobs", data="{not json", content_type="application/json")
        assert response.status_code == 400
        assert response.json()["error"].startswith("The request body is not valid JSON")

    def test_a_body_that_is_not_an_object_is_400(self, api):
        response = post_json(api, "/api/jobs", ["canary"])
        assert response.status_code == 400
        assert "Send a JSON object" in response.json()["error"]

    def test_second_start_under_a_held_lock_is_409_with_the_conflict(self, api):
        with hold("canary"):  # should a worker take the first, it still cannot end before the second start
            first = post_json(api, "/api/jobs", {"type": "canary", "params": {"seconds": 30}}).json()
            response = post_json(api, "/api/jobs", {"type": "canary"})
        assert response.status_code == 409
        assert response.json()["error"].startswith("Already running: canary job #")
        assert response.json()["conflict"]["id"] == first["id"]

    def test_session_post_without_csrf_token_is_403(self, operator):
        client = Client(enforce_csrf_checks=True)
        client.force_login(operator)
        response = post_json(client, "/api/jobs", {"type": "canary"})
        assert response.status_code == 403
        assert "CSRF" in response.json()["error"]
        assert not Job.objects.exists()


class JobReadTests:
    def test_unknown_id_is_404(self, api):
        response = api.get("/api/jobs/999999")
        assert response.status_code == 404
        assert "error" in response.json()

    def test_detail_carries_history(self, api, operator):
        job = services.job_start(type="canary", params={}, actor=operator, source="cli")
        body = api.get(f"/api/jobs/{job.pk}").json()
        assert body["history"][0]["state"] == "queued" and body["history"][0]["actor"] == "olivia"

    def test_list_is_keyset_paginated_and_filtered(self, api, operator):
        for _ in range(3):
            job_create(state=JobState.CANCELLED)
        job_create(state=JobState.FAILED)
        page = api.get("/api/jobs?limit=2&state=cancelled").json()
        assert len(page["results"]) == 2 and page["next"]
        rest = api.get(page["next"]).json()
        assert len(rest["results"]) == 1 and rest["next"] is None
        ids = [j["id"] for j in page["results"] + rest["results"]]
        assert ids == sorted(ids, reverse=True)
        assert [j["state"] for j in api.get("/api/jobs?state=failed").json()["results"]] == ["failed"]

    @pytest.mark.parametrize("query", ["cursor=abc", "cursor=-3", "limit=0", "limit=many"])
    def test_a_bad_cursor_or_limit_is_refused_with_a_sentence(self, api, query):
        response = api.get(f"/api/jobs?{query}")
        assert response.status_code == 400
        assert "must be a positive whole number" in response.json()["error"]


class JobCancelRetryTests:
    def test_cancel_queued_is_202_and_cancelled(self, api):
        job = job_create(state=JobState.QUEUED)
        response = api.post(f"/api/jobs/{job.pk}/cancel")
        assert response.status_code == 202
        assert response.json()["state"] == "cancelled"

    def test_cancel_running_is_202_and_cancelling(self, api):
        job = job_create(state=JobState.RUNNING)
        response = api.post(f"/api/jobs/{job.pk}/cancel")
        assert response.status_code == 202
        assert response.json()["state"] == "cancelling" and response.json()["cancel_requested_at"]

    def test_cancelling_a_finished_job_is_409(self, api):
        job = job_create(state=JobState.CANCELLED)
        response = api.post(f"/api/jobs/{job.pk}/cancel")
        assert response.status_code == 409
        assert "already cancelled" in response.json()["error"]

    def test_retry_creates_a_linked_job(self, api):
        job = job_create(state=JobState.FAILED, params={"seconds": 0.5}, error="boom")
        response = api.post(f"/api/jobs/{job.pk}/retry")
        assert response.status_code == 201
        assert response.json()["retry_of"] == job.pk
        assert response.json()["params"] == {"seconds": 0.5}
        assert Job.objects.get(pk=job.pk).state == JobState.FAILED

    def test_retrying_a_running_job_is_409(self, api):
        job = job_create(state=JobState.RUNNING)
        response = api.post(f"/api/jobs/{job.pk}/retry")
        assert response.status_code == 409
        assert "only failed or cancelled jobs can be retried" in response.json()["error"]


class PermissionTests:
    def test_anonymous_is_401(self):
        response = Client().get("/api/jobs")
        assert response.status_code == 401
        assert "Bearer" in response.json()["error"]

    def test_staff_without_permission_is_403_and_audited(self, plain_staff):
        client = Client()
        client.force_login(plain_staff)
        assert client.get("/api/jobs").status_code == 403
        denied = AuditLog.objects.get(action="permission.denied")
        assert denied.actor_username == "stan" and denied.outcome == "denied" and denied.target == "/api/jobs"

    def test_auditor_reads_but_cannot_start(self, auditor):
        client = Client()
        client.force_login(auditor)
        assert client.get("/api/jobs").status_code == 200
        assert post_json(client, "/api/jobs", {"type": "canary"}).status_code == 403
        assert not Job.objects.exists()


class TokenTests:
    def test_bearer_token_authenticates_without_csrf(self, operator):
        _, raw = tokens.token_create(user=operator, source="cli")
        client = Client(enforce_csrf_checks=True)
        response = post_json(client, "/api/jobs", {"type": "canary"}, HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert response.status_code == 201
        assert response.json()["requested_by"] == "olivia"

    def test_token_is_stored_hashed(self, operator):
        token, raw = tokens.token_create(user=operator, source="cli")
        assert raw not in (token.digest, token.prefix + token.digest)
        assert AuditLog.objects.filter(action="token.create", target="olivia").exists()

    def test_last_use_is_written_at_most_once_a_minute(self, operator):
        token, raw = tokens.token_create(user=operator, source="cli")
        client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert client.get("/api/jobs").status_code == 200
        token.refresh_from_db()
        first = token.last_used_at
        assert first is not None
        assert client.get("/api/jobs").status_code == 200
        token.refresh_from_db()
        assert token.last_used_at == first  # a call within the minute writes nothing
        type(token).objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
        assert client.get("/api/jobs").status_code == 200
        token.refresh_from_db()
        assert token.last_used_at > first

    def test_revoked_token_is_401(self, operator):
        token, raw = tokens.token_create(user=operator, source="cli")
        tokens.token_revoke(token=token, source="cli")
        response = Client().get("/api/jobs", HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert response.status_code == 401
        assert "unknown or revoked" in response.json()["error"]


class UploadTests:
    def test_upload_stores_the_file(self, api, tmp_path):
        path = tmp_path / "entries.csv"
        path.write_text("kind,external_id,title\nmanual,m1,One\n")
        with open(path, "rb") as handle:
            response = api.post("/api/uploads", {"file": handle})
        assert response.status_code == 201
        body = response.json()
        assert body["name"] == "entries.csv" and body["size"] == path.stat().st_size
        assert Upload.objects.get(pk=body["id"]).path.read_bytes() == path.read_bytes()

    @pytest.mark.parametrize("size", [200_000, 120_000], ids=["declared-too-large", "streamed-past-the-cap"])
    def test_upload_over_the_cap_is_413_and_stores_nothing(self, api, settings, tmp_path, size):
        # 120 kB passes the Content-Length check (cap + 64 KiB framing) and is stopped while streaming.
        settings.CHLOPS_UPLOAD_MAX_BYTES = 100_000
        settings.UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
        before = set(settings.UPLOAD_DIR.iterdir())
        path = tmp_path / "big.csv"
        path.write_bytes(b"x" * size)
        with open(path, "rb") as handle:
            response = api.post("/api/uploads", {"file": handle})
        assert response.status_code == 413
        assert "larger than the upload limit of 97.7\xa0KB" in response.json()["error"]
        assert not Upload.objects.exists()
        assert set(settings.UPLOAD_DIR.iterdir()) == before

    def test_upload_without_a_file_is_400(self, api):
        response = api.post("/api/uploads", {"other": "x"})
        assert response.status_code == 400
        assert "field named 'file'" in response.json()["error"]


class SessionUploadTests:
    """A logged-in user uploads from a page script or a requests.Session: session cookie plus X-CSRFToken."""

    def test_a_session_with_the_csrf_header_uploads_the_file(self, operator, tmp_path):
        client = browser_login(operator)
        path = tmp_path / "entries.csv"
        path.write_text("kind,external_id,title\nmanual,m1,One\n")
        with open(path, "rb") as handle:
            response = client.post("/api/uploads", {"file": handle}, **csrf_header(client))
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["name"] == "entries.csv" and body["size"] == path.stat().st_size
        assert Upload.objects.get(pk=body["id"]).path.read_bytes() == path.read_bytes()

    def test_a_session_without_the_csrf_header_is_403_and_stores_nothing(self, operator):
        client = browser_login(operator)
        response = client.post("/api/uploads", {"file": named_file(b"kind\n", "entries.csv")})
        assert response.status_code == 403
        assert "CSRF" in response.json()["error"] and "X-CSRFToken" in response.json()["error"]
        assert not Upload.objects.exists()

    @pytest.mark.parametrize("size", [200_000, 120_000], ids=["declared-too-large", "streamed-past-the-cap"])
    def test_a_session_upload_over_the_cap_is_413_with_the_sentence(self, operator, settings, tmp_path, size):
        settings.CHLOPS_UPLOAD_MAX_BYTES = 100_000
        settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "staging"  # where the handler streams a file as it arrives
        client = browser_login(operator)
        response = client.post("/api/uploads", {"file": named_file(b"x" * size, "big.csv")}, **csrf_header(client))
        assert response.status_code == 413
        assert "larger than the upload limit of 97.7\xa0KB" in response.json()["error"]
        assert not Upload.objects.exists()
        staging = settings.FILE_UPLOAD_TEMP_DIR  # made only once a file starts to arrive (the streamed case)
        assert not staging.exists() or list(staging.iterdir()) == []

    def test_a_stored_upload_leaves_nothing_in_the_staging_dir(self, operator, settings, tmp_path):
        settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "staging"
        client = browser_login(operator)
        response = client.post("/api/uploads", {"file": named_file(b"kind\n", "a.csv")}, **csrf_header(client))
        assert response.status_code == 201
        assert list(settings.FILE_UPLOAD_TEMP_DIR.iterdir()) == []


def named_file(data: bytes, name: str):
    handle = io.BytesIO(data)
    handle.name = name
    return handle
