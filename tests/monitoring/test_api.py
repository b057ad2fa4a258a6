"""The monitoring API and /metrics: shapes, permissions (DESIGN §7), bad input, and the numbers behind them."""

from __future__ import annotations

import datetime
import time

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from monitoring.health import runner, services
from monitoring.metrics import RECORDER, clock, series
from monitoring.metrics.series import MODULES
from monitoring.models import HealthEvent
from operations.tokens import token_create

pytestmark = pytest.mark.django_db


def bearer(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user, name='test', source='cli')[1]}")


def families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


class HealthApiTests:
    def test_the_overview_has_every_module_with_status_time_errors_trend_and_anomalies(self, operator):
        services.health_store([runner.ModuleAnswer(name, "healthy", "", 2.5, ()) for name in MODULES], minutes=None)
        response = bearer(operator).get("/api/health")
        assert response.status_code == 200
        body = response.json()
        assert set(body) >= {"status", "timestamp", "modules"}
        assert list(body["modules"]) == list(MODULES)
        assert set(body["modules"]["cache"]) >= {"status", "response_time_ms", "error_count", "trend", "anomalies"}
        assert body["modules"]["cache"]["response_time_ms"] == 2.5

    def test_a_module_shows_its_checks_history_and_what_its_states_mean(self, auditor):
        services.health_store([runner.ModuleAnswer("index", "down", "No index.", 1.0, ())], minutes=None)
        body = bearer(auditor).get("/api/health/modules/index").json()
        assert (body["module"], body["status"], body["message"]) == ("index", "down", "No index.")
        assert body["history"][0]["status"] == "down"
        assert set(body["meaning"]) == {"degraded", "down", "what_to_do"}

    def test_an_unknown_module_is_404_naming_the_thirteen(self, operator):
        response = bearer(operator).get("/api/health/modules/nope")
        assert response.status_code == 404
        assert response.json() == {"error": f"There is no module 'nope'; the modules are: {', '.join(MODULES)}."}

    def test_who_may_see_health(self, auditor, plain_staff):
        assert bearer(auditor).get("/api/health").status_code == 200
        assert bearer(plain_staff).get("/api/health").status_code == 403
        assert Client().get("/api/health").status_code == 401


class PerformanceApiTests:
    def test_every_range_answers_the_seeds_shape(self, operator):
        client = bearer(operator)
        for name in ("1h", "6h", "24h", "7d"):
            body = client.get(f"/api/monitoring/performance?range={name}").json()
            assert set(body["api_response_time"]) == {"p50", "p95", "p99"}
            assert {"request_rate", "error_rate", "uptime_seconds", "trends", "series", "modules"} <= set(body)
            assert body["range"] == name
        assert client.get("/api/monitoring/performance").json()["range"] == "1h"

    def test_uptime_has_a_trend_from_the_first_half_of_the_range_to_the_second(self, operator):
        now = timezone.now()
        HealthEvent.objects.create(module="web", status="healthy", at=now - datetime.timedelta(hours=2))
        HealthEvent.objects.create(module="web", status="down", at=now - datetime.timedelta(minutes=20))
        HealthEvent.objects.create(module="web", status="healthy", at=now - datetime.timedelta(minutes=10))
        body = bearer(operator).get("/api/monitoring/performance?range=1h").json()
        assert body["uptime_percent"] == pytest.approx(100 * 50 / 60, abs=0.1)
        trend = body["trends"]["uptime"]
        # 100 % up in the first half, two thirds in the second; the halves are read in whole minutes, so
        # a request that starts a few seconds after `now` may see up to a minute (1/30) more or less.
        assert trend["change"] == pytest.approx(-1 / 3, abs=0.04)
        assert (trend["direction"], trend["tone"]) == ("down", "worse")

    def test_without_redis_the_answer_is_503_with_a_sentence(self, operator, settings, tmp_path):
        client = bearer(operator)
        settings.REDIS_URL = f"unix://{tmp_path}/gone.sock"
        response = client.get("/api/monitoring/performance?range=24h")
        assert response.status_code == 503
        assert response.json()["error"].startswith("The metrics cannot be read: Redis is not answering.")

    def test_a_range_not_offered_is_400_naming_them(self, operator):
        response = bearer(operator).get("/api/monitoring/performance?range=2h")
        assert response.status_code == 400
        assert response.json() == {"error": "Unknown range '2h'; use one of: 1h, 6h, 24h, 7d."}

    def test_the_numbers_are_those_recorded(self, operator):
        client = bearer(operator)
        at = series.bucket_start(time.time() - 5 * 3600, 60) + 1
        clock.clock_set(at)
        try:
            for i in range(200):
                RECORDER.observe(series.HTTP, "audit", ("GET", "5xx" if i < 10 else "2xx"), 0.050, error=i < 10)
            RECORDER.flush()
            clock.clock_set(at + 30)
            body = client.get("/api/monitoring/performance?range=1h").json()
        finally:
            clock.clock_reset()
        [audit] = [row for row in body["modules"] if row["module"] == "audit"]
        assert (audit["requests"], audit["errors"]) == (200, 10)
        assert abs(audit["p95_ms"] - 50) / 50 <= 0.02
        assert len(body["series"]["t"]) == 61
        assert body["series"]["request_rate"][-1] == pytest.approx(200 / 60, abs=1e-3)


class MetricsTests:
    def test_without_a_token_401_and_with_a_token_of_someone_who_may_not_see_403(self, plain_staff):
        response = Client().get("/metrics")
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "error" in response.json()
        assert bearer(plain_staff).get("/metrics").status_code == 403
        assert Client(HTTP_AUTHORIZATION="Bearer nonsense").get("/metrics").status_code == 401

    def test_prometheus_parses_what_it_scrapes_and_the_counts_are_the_stores(self, operator):
        client = bearer(operator)

        def count(found: dict) -> float:
            family = found.get("chlops_search_duration_seconds")
            samples = [] if family is None else family.samples
            return sum(
                s.value for s in samples if s.name.endswith("_count") and s.labels == {"mode": "hybrid", "outcome": "ok"}
            )

        before = count(families(client.get("/metrics").content.decode()))
        for seconds in (0.004, 0.02, 0.3):
            RECORDER.observe(series.SEARCH, "hybrid", ("ok",), seconds)
        RECORDER.count(series.EMBEDDED_TEXTS, "hashing", 12)
        RECORDER.flush()
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        found = families(response.content.decode())
        assert count(found) == before + 3
        histogram = found["chlops_search_duration_seconds"]
        assert histogram.type == "histogram"
        buckets = [s for s in histogram.samples if s.name.endswith("_bucket") and s.labels["mode"] == "hybrid" and s.labels["outcome"] == "ok"]
        assert [b.labels["le"] for b in buckets][-1] == "+Inf"
        assert [b.value for b in buckets] == sorted(b.value for b in buckets)  # cumulative
        assert found["chlops_embedded_texts"].type == "counter"
        assert {s.labels["module"] for s in found["chlops_module_status"].samples} == set(MODULES)
        assert {"chlops_http_request_duration_seconds", "chlops_job_duration_seconds", "chlops_queue_depth",
                "chlops_workers_online", "chlops_health_status", "chlops_metrics_dropped"} <= set(found)  # fmt: skip

    def test_the_scrape_is_not_counted_as_traffic(self, operator):
        client = bearer(operator)
        client.get("/metrics")
        RECORDER.flush()
        first = families(client.get("/metrics").content.decode())
        RECORDER.flush()
        second = families(client.get("/metrics").content.decode())
        assert first["chlops_http_request_duration_seconds"].samples == second["chlops_http_request_duration_seconds"].samples
