"""The cache monitor: hits and misses per prefix, /api/monitoring/cache, Clear cache (its own keys only,
run permission, audited), the card and the cache module's check."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache, caches
from django.test import Client
from health_check.exceptions import ServiceWarning

from audit.models import AuditLog
from chlops.asgi import application
from chlops.celery import app
from chlops.redis_clients import redis_client
from monitoring.collectors.cache import InstrumentedRedisCache
from monitoring.health import infrastructure
from monitoring.health.infrastructure import CacheRoom
from monitoring.metrics import RECORDER
from monitoring.services import cache_clear
from operations import services as job_services
from operations.broadcasts import OPS_GROUP
from operations.models import Job, JobState
from operations.tokens import token_create
from tests.conftest import only_worker, receive_containing, wait_for
from tests.gates import hold, wait_until_held
from tests.monitoring.helpers import hostname
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


def socket_headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    return [
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        (b"origin", b"http://localhost"),
        (b"host", b"localhost"),
    ]


def broker_and_layer(client) -> dict[str, object]:
    """What a clear must not touch: the jobs queue's messages, its binding, the Operations page's group."""
    return {
        "queue": client.lrange("jobs", 0, -1),
        "binding": client.smembers("_kombu.binding.jobs"),
        "group": bool(client.zcard(f"chlops:asgi:group:{OPS_GROUP}")),  # its members may come and go; the key stays
    }


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


@pytest.mark.django_db(transaction=True)
class ClearWhileWorkingTests:
    """Clearing shares a Redis db with Celery's broker and the channel layer, so it is tried mid-run."""

    def test_clearing_mid_job_loses_no_broker_message_nor_group_and_the_pushes_still_arrive(self, operator, worker):
        async_to_sync(self._run)(operator)

    async def _run(self, operator) -> None:
        headers = await database_sync_to_async(socket_headers)(operator)
        socket = WebsocketCommunicator(application, "/ws/ops/", headers=headers)
        assert (await socket.connect(timeout=10))[0]
        try:
            await socket.receive_from(timeout=10)  # the snapshot
            running, waiting = await database_sync_to_async(self._clear_mid_run)(operator)
            # Their rows are still pushed to the page's group, to the end (in whichever order they finish).
            rows = {
                f'id="job-{job}" class="ops-row" data-job-id="{job}" data-state="succeeded"'
                for job in (running, waiting)
            }
            while rows:
                pushed = await receive_containing(
                    socket, lambda message, rows=rows: any(row in message for row in rows), attempts=200
                )
                rows = {row for row in rows if row not in pushed}
        finally:
            await socket.disconnect()

    def _clear_mid_run(self, operator) -> tuple[int, int]:
        """A canary parked at a checkpoint, an export waiting in the broker's queue, then Clear cache."""
        client = redis_client()
        with only_worker("test"), hold("canary"):
            running = job_services.job_start(type="canary", params={"seconds": 0.2}, actor=operator, source="cli")
            wait_until_held(running.pk)
            assert app.control.cancel_consumer("jobs", destination=[hostname("test")], reply=True, timeout=5)
            try:
                queued = client.llen("jobs")
                waiting = job_services.job_start(type="export", params={}, actor=operator, source="cli")
                wait_for(lambda: client.llen("jobs") == queued + 1, message="the export's message to wait in the queue")
                cache.set_many({"h10r:a": 1, "h10r:b": 2})
                before = broker_and_layer(client)
                assert before["group"] and before["binding"]
                removed = cache_clear(actor=operator, source="cli")
                assert removed >= 2 and cache.get_many(["h10r:a", "h10r:b"]) == {}
                assert broker_and_layer(client) == before
            finally:
                app.control.add_consumer("jobs", destination=[hostname("test")], reply=True, timeout=5)
        for job in (running, waiting):
            wait_for(lambda job=job: Job.objects.get(pk=job.pk).is_finished, message=f"{job.type} job to finish")
            job.refresh_from_db()
            assert job.state == JobState.SUCCEEDED, job.error
        return running.pk, waiting.pk
