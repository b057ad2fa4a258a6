"""The cache monitor: hits and misses per prefix, /api/monitoring/cache, Clear cache (its own keys only,
run permission, audited), the card and the cache module's check."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache, caches
from django.test import Client
from health_check.exceptions import ServiceWarning

from audit.models import AuditLog
from chlops.redis_clients import redis_client
from monitoring.collectors.cache import InstrumentedRedisCache
from monitoring.health import infrastructure
from monitoring.health.infrastructure import CacheRoom
from monitoring.metrics import RECORDER
from operations.tokens import token_create
from tests.sessions import browser_login, csrf_header

pytestmark = pytest.mark.django_db

# What Celery's broker (kombu's Redis transport) and the channel layer keep in the same Redis db.
NEIGHBOURS = {
    "h10probe": ("rpush", ['{"body": "a task"}']),  # a queue
    "_kombu.binding.h10probe": ("sadd", ["h10probe\x06\x16\x06\x16h10probe"]),
    "chlops:asgi:group:h10probe": ("zadd", [{"specific.abc!def": 1.0}]),
    "chlops:asgi:specific.h10probe!": ("rpush", ["a message"]),
    "chlops:metrics:total:h10probe": ("hset", ["n", 1]),
}


def bearer(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user, name='test', source='cli')[1]}")


@pytest.fixture
def neighbours():
    client = redis_client()
    for key, (command, args) in NEIGHBOURS.items():
        getattr(client, command)(key, *args)
    yield client
    client.delete(*NEIGHBOURS)


class CountingTests:
    def test_the_configured_backend_counts(self):
        assert isinstance(caches["default"], InstrumentedRedisCache)

    def test_hits_and_misses_are_counted_per_prefix(self, auditor):
        prefix = f"probe{uuid.uuid4().hex[:8]}"
        cache.set(f"{prefix}:1", "x")
        assert cache.get(f"{prefix}:1") == "x"
        assert cache.get(f"{prefix}:nope", "default") == "default"
        assert cache.get_many([f"{prefix}:1", f"{prefix}:2"]) == {f"{prefix}:1": "x"}
        RECORDER.flush()
        body = bearer(auditor).get("/api/monitoring/cache").json()
        assert body["hits"] >= 2 and body["misses"] >= 2 and 0 < body["hit_ratio"] < 1
        mine = next(row for row in body["top_keys"] if row["prefix"] == prefix)
        assert (mine["hits"], mine["misses"], mine["hit_ratio"]) == (2, 2, 0.5)
        assert body["redis"]["available"] is True
        assert body["redis"]["used_memory_bytes"] > 0 and body["redis"]["evicted_keys"] >= 0
        assert "shares it with Celery's broker" in body["redis"]["note"]

    def test_unknown_parameters_are_400(self, auditor):
        response = bearer(auditor).get("/api/monitoring/cache?top=5")
        assert response.status_code == 400
        assert response.json() == {"error": "Unknown parameter 'top'; it takes none."}


class ClearTests:
    def test_clear_removes_the_caches_keys_only_and_is_audited(self, operator, neighbours):
        cache.set_many({"h10:a": 1, "h10:b": 2, "other-prefix": 3})
        cache.set("versioned", 4, version=7)
        response = bearer(operator).post("/api/monitoring/cache/clear")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["removed"] >= 4 and "left alone" in body["message"]
        assert cache.get_many(["h10:a", "h10:b", "other-prefix"]) == {} and cache.get("versioned", version=7) is None
        for key in NEIGHBOURS:
            assert neighbours.exists(key), f"{key} was removed with the cache"
        assert neighbours.lrange("h10probe", 0, -1) == [b'{"body": "a task"}']
        row = AuditLog.objects.filter(action="cache.clear").latest("id")
        assert row.actor == operator and row.details["removed"] == body["removed"]

    def test_a_session_clears_from_the_card_with_csrf(self, operator, neighbours):
        cache.set("h10:card", 1)
        client = browser_login(operator)
        assert client.post("/admin/ops/monitoring/cache/clear/", HTTP_HX_REQUEST="true").status_code == 403  # no token
        response = client.post("/admin/ops/monitoring/cache/clear/", HTTP_HX_REQUEST="true", **csrf_header(client))
        assert response.status_code == 200
        html = response.content.decode()
        assert 'id="cache-card"' in html and "removed; the broker" in html
        assert cache.get("h10:card") is None and all(neighbours.exists(key) for key in NEIGHBOURS)

    def test_without_the_run_permission_it_is_403_and_audited(self, auditor, plain_staff):
        cache.set("h10:kept", 1)
        for user in (auditor, plain_staff):
            response = bearer(user).post("/api/monitoring/cache/clear")
            assert response.status_code == 403
            assert "permission" in response.json()["error"]
        page = browser_login(auditor)
        assert page.post("/admin/ops/monitoring/cache/clear/", **csrf_header(page)).status_code == 403
        assert cache.get("h10:kept") == 1
        denied = AuditLog.objects.filter(action="permission.denied", outcome="denied", target__contains="cache/clear")
        assert denied.count() == 3
        assert not AuditLog.objects.filter(action="cache.clear").exists()
        assert Client().post("/api/monitoring/cache/clear").status_code == 401


class CardTests:
    def test_the_card_shows_the_ratio_as_a_bar_with_numbers_and_offers_clear_to_operators(self, operator, auditor):
        cache.set("h10:seen", 1)
        cache.get("h10:seen")
        RECORDER.flush()
        html = browser_login(operator).get("/admin/ops/monitoring/").content.decode()
        assert '<section id="cache-card"' in html and '<meter id="cache-hit-ratio"' in html
        assert "hits," in html and "misses" in html
        assert 'id="cache-clear"' in html and 'data-confirm-title="Clear the cache?"' in html
        assert 'id="cache-clear"' not in browser_login(auditor).get("/admin/ops/monitoring/").content.decode()


class HealthTests:
    def test_redis_near_its_maxmemory_degrades_the_cache_module(self, monkeypatch):
        full = {
            "used_memory_bytes": 97 * 2**20,
            "maxmemory_bytes": 100 * 2**20,
            "evicted_keys": 12,
            "maxmemory_policy": "allkeys-lru",
        }
        monkeypatch.setattr(infrastructure.cache_status, "redis_memory", lambda: full)
        with pytest.raises(ServiceWarning, match="97% of its maxmemory"):
            CacheRoom().run()
        monkeypatch.undo()
        CacheRoom().run()
