from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditLog
from operations import tokens
from operations.models import ApiToken, Job, JobHistory, JobState, Upload

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/operations/job/"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_job(**fields) -> Job:
    fields.setdefault("type", "canary")
    return Job.objects.create(**fields)


def listed_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'name="_selected_action" value="(\d+)"', html)]


class JobChangelistTests:
    @pytest.mark.parametrize("who", ["operator", "auditor", "superuser"])
    def test_changelist_lists_jobs_with_filters(self, request, who):
        job = make_job(state=JobState.FAILED)
        response = logged_in(request.getfixturevalue(who)).get(CHANGELIST)
        html = response.content.decode()
        assert response.status_code == 200
        assert f'href="/admin/operations/job/{job.pk}/change/' in html
        for title in ("By state", "By type", "By source", "By requested by"):
            assert title in html

    def test_filters_by_state_and_source(self, operator):
        failed = make_job(state=JobState.FAILED, source="cli")
        make_job(state=JobState.SUCCEEDED, source="cli")
        make_job(state=JobState.FAILED, source="web")
        html = logged_in(operator).get(CHANGELIST + "?state__exact=failed&source__exact=cli").content.decode()
        assert listed_ids(html) == [failed.pk]

    def test_filters_by_type_and_requester_newest_first(self, operator, auditor):
        older = make_job(type="drain", requested_by=operator)
        newer = make_job(type="drain", requested_by=operator)
        make_job(type="canary", requested_by=operator)
        make_job(type="drain", requested_by=auditor)
        client = logged_in(operator)
        html = client.get(CHANGELIST + f"?type__exact=drain&requested_by__id__exact={operator.pk}").content.decode()
        assert listed_ids(html) == [newer.pk, older.pk]
        assert "type__exact=canary" in html  # the filter offers every type that has jobs

    def test_date_hierarchy_drills_down(self, operator):
        job = make_job()
        now = timezone.localtime(job.created_at)
        client = logged_in(operator)
        page = client.get(CHANGELIST).content.decode()
        assert f"created_at__day={now.day}" in page  # one month of jobs: the days are offered
        response = client.get(CHANGELIST, {"created_at__year": now.year, "created_at__month": now.month})
        assert listed_ids(response.content.decode()) == [job.pk]

    def test_never_counts_or_scans_the_whole_table(self, operator):
        make_job(state=JobState.FAILED)
        client = logged_in(operator)
        for query in ("", "?state__exact=failed", "?type__exact=canary", f"?requested_by__id__exact={operator.pk}"):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(CHANGELIST + query).status_code == 200
            job_queries = [q["sql"].upper() for q in queries if "OPERATIONS_JOB" in q["sql"].upper()]
            counts = [sql for sql in job_queries if "COUNT(" in sql]
            assert counts and all("LIMIT" in sql for sql in counts)
            assert not [sql for sql in job_queries if "DISTINCT" in sql or "TRUNC" in sql]

    def test_search_finds_a_job_by_id_or_correlation_id(self, operator):
        first, second = make_job(), make_job()
        client = logged_in(operator)
        assert listed_ids(client.get(CHANGELIST, {"q": f"#{second.pk}"}).content.decode()) == [second.pk]
        assert listed_ids(client.get(CHANGELIST, {"q": str(first.correlation_id)}).content.decode()) == [first.pk]
        assert listed_ids(client.get(CHANGELIST, {"q": "nonsense"}).content.decode()) == []

    def test_jobs_cannot_be_added_changed_or_deleted_in_the_admin(self, superuser):
        job = make_job(state=JobState.FAILED)
        JobHistory.objects.create(job=job, kind="transition", state="failed", message="boom")
        client = logged_in(superuser)
        assert client.get(CHANGELIST + "add/").status_code == 403
        page = client.get(f"{CHANGELIST}{job.pk}/change/").content.decode()
        assert 'name="_save"' not in page and "Delete" not in page
        assert "boom" in page and "Open in the operations dashboard" in page
        assert client.post(f"{CHANGELIST}{job.pk}/change/", {"type": "export"}).status_code == 403
        assert client.get(f"{CHANGELIST}{job.pk}/delete/").status_code == 403
        assert Job.objects.get().type == "canary"


class JobActionTests:
    def test_cancel_action_cancels_active_jobs_and_reports_each_error(self, operator):
        queued = make_job()
        done = make_job(state=JobState.SUCCEEDED, finished_at=timezone.now())
        client = logged_in(operator)
        response = client.post(
            CHANGELIST, {"action": "cancel_jobs", "_selected_action": [queued.pk, done.pk]}, follow=True
        )
        texts = [str(m) for m in get_messages(response.wsgi_request)]
        queued.refresh_from_db()
        assert queued.state == JobState.CANCELLED
        assert (
            f"canary job #{done.pk}: canary job #{done.pk} has already succeeded; there is nothing to cancel." in texts
        )
        assert "Asked 1 job(s) to stop." in texts
        row = AuditLog.objects.get(action="job.cancel")
        assert (row.source, row.actor) == ("admin", operator)

    def test_retry_action_starts_linked_jobs(self, operator):
        failed = make_job(state=JobState.FAILED)
        logged_in(operator).post(CHANGELIST, {"action": "retry_jobs", "_selected_action": [failed.pk]})
        retry = Job.objects.get(retry_of=failed)
        assert (retry.state, retry.source) == (JobState.QUEUED, "admin")

    def test_auditors_are_not_offered_the_actions_and_cannot_use_them(self, auditor):
        job = make_job()
        client = logged_in(auditor)
        html = client.get(CHANGELIST).content.decode()
        assert "cancel_jobs" not in html and "retry_jobs" not in html
        client.post(CHANGELIST, {"action": "cancel_jobs", "_selected_action": [job.pk]})
        job.refresh_from_db()
        assert job.state == JobState.QUEUED

    def test_plain_staff_cannot_see_jobs(self, plain_staff):
        assert logged_in(plain_staff).get(CHANGELIST).status_code == 403


class UploadAdminTests:
    def test_uploads_are_listed_read_only(self, operator):
        upload = Upload.objects.create(name="entries.csv", size=10, sha256="a" * 64, uploaded_by=operator)
        client = logged_in(operator)
        assert "entries.csv" in client.get("/admin/operations/upload/").content.decode()
        page = client.get(f"/admin/operations/upload/{upload.pk}/change/").content.decode()
        assert 'name="_save"' not in page
        assert client.get("/admin/operations/upload/add/").status_code == 403


class ApiTokenAdminTests:
    def test_superuser_creates_a_token_and_sees_it_once(self, superuser, operator):
        client = logged_in(superuser)
        response = client.post("/admin/operations/apitoken/add/", {"user": operator.pk, "name": "cron"}, follow=True)
        texts = [str(m) for m in get_messages(response.wsgi_request)]
        raw = next(re.search(r"(chl_\S+) — copy it now", t).group(1) for t in texts if "copy it now" in t)
        token = ApiToken.objects.get()
        assert tokens.token_find(raw=raw) == token and token.user == operator and token.name == "cron"
        assert raw not in client.get("/admin/operations/apitoken/").content.decode()
        assert AuditLog.objects.filter(action="token.create", source="admin", actor=superuser).exists()

    def test_revoke_action_revokes_tokens(self, superuser, operator):
        token, raw = tokens.token_create(user=operator, source="cli")
        logged_in(superuser).post(
            "/admin/operations/apitoken/", {"action": "revoke_tokens", "_selected_action": [token.pk]}
        )
        token.refresh_from_db()
        assert token.revoked_at is not None and tokens.token_find(raw=raw) is None

    def test_tokens_are_for_superusers_only(self, operator):
        tokens.token_create(user=operator, source="cli")
        client = logged_in(operator)
        assert client.get("/admin/operations/apitoken/").status_code == 403
        assert client.get("/admin/operations/apitoken/add/").status_code == 403
        assert "apitoken" not in client.get("/admin/").content.decode()
