"""Collectors: requests by module, method and status class; jobs, searches and embedding batches."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client
from django.urls import URLPattern, URLResolver, get_resolver

from indexes.embedders import embedder_build
from indexes.search import SearchInvalid, search
from monitoring.collectors.requests import ROUTES
from monitoring.metrics import RECORDER, reading
from operations import runner, services
from operations.models import Job, JobState
from operations.tokens import token_create
from tests.conftest import wait_for


def total(family: str, *labels: str) -> int:
    return reading.totals(family).get(labels, reading.Total()).count


def counted(family: str, *labels: str):
    """How many more of a labelled series were counted since the call, once flushed."""
    before = total(family, *labels)

    def added() -> int:
        RECORDER.flush()
        return total(family, *labels) - before

    return added


def view_names(patterns, namespace: str = "") -> set[str]:
    names = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names |= view_names(pattern.url_patterns, f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(namespace + pattern.name)
    return names


@pytest.mark.django_db
class RequestMiddlewareTests:
    def test_a_request_is_counted_under_its_module_method_and_status_class(self, operator):
        token = token_create(user=operator, name="probe", source="cli")[1]
        jobs = counted("http", "jobs", "GET", "2xx")
        refused = counted("http", "jobs", "POST", "4xx")
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert client.get("/api/jobs").status_code == 200
        assert client.post("/api/jobs", {"type": "nope"}, content_type="application/json").status_code == 400
        assert (jobs(), refused()) == (1, 1)

    def test_a_page_nobody_routes_is_the_webs_and_its_path_is_no_label(self):
        missing = counted("http", "web", "GET", "4xx")
        assert Client().get("/no/such/page/4f1c").status_code == 404
        assert missing() == 1
        assert not any("4f1c" in ",".join(labels) for labels in reading.totals("http"))

    def test_static_files_and_the_scrape_are_not_counted(self):
        before = {labels: t.count for labels, t in reading.totals("http").items()}
        Client().get("/static/vendor/htmx/htmx.min.js")
        Client().get("/metrics")
        RECORDER.flush()
        assert {labels: t.count for labels, t in reading.totals("http").items()} == before

    def test_an_async_request_is_counted_too(self):
        search = counted("http", "search", "GET", "4xx")  # nobody logged in: 401/403
        response = async_to_sync(AsyncClient().get)("/api/search?q=x")
        assert response.status_code in (401, 403)
        assert search() == 1

    def test_every_routed_name_exists(self):
        assert set(ROUTES) <= view_names(get_resolver().url_patterns)


@pytest.mark.django_db(transaction=True)
class WorkCollectorTests:
    def test_a_job_run_by_a_worker_is_counted_by_type_and_outcome(self, worker, operator):
        succeeded = counted("job", "canary", "succeeded")
        job = services.job_start(type="canary", params={"seconds": 0.1}, actor=operator, source="cli")
        wait_for(lambda: Job.objects.get(pk=job.pk).state == JobState.SUCCEEDED, message="canary to succeed")
        wait_for(lambda: succeeded() == 1, timeout=10, message="the worker to flush the canary's duration")

    def test_a_job_of_an_unknown_type_fails_and_is_counted_as_other(self):
        failed = counted("job", "other", "failed")
        job = Job.objects.create(type="nope", params={}, state=JobState.QUEUED)
        runner.job_execute(job_id=job.pk, worker="here")
        assert Job.objects.get(pk=job.pk).state == JobState.FAILED
        assert failed() == 1

    def test_searches_are_counted_by_mode_and_outcome(self):
        invalid = counted("search", "dense", "invalid")
        error = counted("search", "sparse", "error")
        with pytest.raises(SearchInvalid):
            search(query="  ", mode="dense")
        with pytest.raises(Exception):  # noqa: B017 — no sparse vectors yet: a module error, whatever its class
            search(query="hello", mode="sparse")
        assert (invalid(), error()) == (1, 1)

    def test_an_embedding_batch_counts_its_time_and_its_texts(self):
        ok = counted("embed", "hashing", "ok")
        texts_before = reading.counters().get(("embedded_texts", "hashing"), 0)
        embedder_build(name="hashing", dimension=64).embed(["one text", "two texts", "three"])
        assert ok() == 1
        assert reading.counters()[("embedded_texts", "hashing")] == texts_before + 3
