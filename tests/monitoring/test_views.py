"""The Monitoring page and a module's page: who sees them, the 13 cards, filter, sort and range from the
URL (anything not offered falls back), the tab bar, and the page's own socket and pushes."""

from __future__ import annotations

import datetime
import random
import re
import time
import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import Client
from django.utils import timezone

from monitoring.health import runner, services
from monitoring.health.modules import BY_NAME
from monitoring.metrics import RECORDER, clock, series
from monitoring.metrics.series import MODULES
from monitoring.models import HealthEvent
from operations import broadcasts
from tests.conftest import receive_containing
from tests.operations.test_consumers import open_socket, seq_of, session_cookie

STATUSES = {"search": "down", "index": "degraded"}


def stored(**statuses: str) -> None:
    answers = [runner.ModuleAnswer(name, statuses.get(name, "healthy"), f"{name} says so.", 4.0 + i, ()) for i, name in enumerate(MODULES)]
    services.health_store(answers, minutes=None)


def slots(html: str) -> list[tuple[str, bool]]:
    """(module, shown) for each card slot of the page, in page order."""
    return [(name, not hidden) for name, hidden in re.findall(r'<li class="mon-slot" data-slot="([a-z_]+)"( hidden)?>', html)]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
class PageTests:
    def test_the_page_shows_the_overall_health_and_the_thirteen_modules(self, operator):
        stored(**STATUSES)
        html = client_for(operator).get("/admin/ops/monitoring/").content.decode()
        assert 'id="health-overview"' in html
        assert [name for name, _ in slots(html)] == sorted(MODULES, key=lambda name: BY_NAME[name].title)  # by name
        for name in MODULES:
            assert f'<section id="module-{name}"' in html
        assert 'data-status="down"' in html and "search says so." in html
        assert re.search(r'<a href="/admin/ops/monitoring/"[^>]*aria-current="page"', html)
        assert '<a href="/admin/ops/">Operations</a>' in html or 'href="/admin/ops/">Operations' in html
        assert 'ws-connect="/ws/ops/?view=monitoring"' in html
        assert 'data-chart-data="{&quot;range&quot;:&quot;1h&quot;' in html

    def test_filter_and_sort_come_from_the_url(self, auditor):
        stored(**STATUSES)
        html = client_for(auditor).get("/admin/ops/monitoring/?status=down&sort=status").content.decode()
        assert [name for name, shown in slots(html) if shown] == ["search"]
        assert [name for name, _ in slots(html)][:2] == ["search", "index"]  # worst first
        assert 'value="down" checked' in html and 'value="status" selected' in html

    def test_choices_not_offered_fall_back_to_the_defaults(self, operator):
        stored()
        response = client_for(operator).get("/admin/ops/monitoring/?status=nope&sort=%3Cscript%3E&range=2y")
        html = response.content.decode()
        assert response.status_code == 200
        assert all(shown for _, shown in slots(html))
        assert 'value="all" checked' in html and 'value="name" selected' in html and 'value="1h" checked' in html

    def test_sort_by_response_time_puts_the_slowest_first(self, operator):
        stored()
        html = client_for(operator).get("/admin/ops/monitoring/?sort=response").content.decode()
        assert [name for name, _ in slots(html)][0] == MODULES[-1]  # stored above with the longest time

    def test_without_redis_the_page_still_answers_and_says_why_there_are_no_charts(self, operator, settings, tmp_path):
        stored()
        client = client_for(operator)
        settings.REDIS_URL = f"unix://{tmp_path}/gone.sock"
        html = client.get("/admin/ops/monitoring/").content.decode()
        assert "The metrics cannot be read: Redis is not answering." in html
        assert 'data-status="down"' in html and "Redis is not answering: no job starts" in html
        module = client.get("/admin/ops/monitoring/modules/cache/")
        assert module.status_code == 200 and "The metrics cannot be read" in module.content.decode()

    def test_who_may_see_it(self, auditor, plain_staff):
        assert client_for(auditor).get("/admin/ops/monitoring/").status_code == 200
        assert client_for(plain_staff).get("/admin/ops/monitoring/").status_code == 403
        assert Client().get("/admin/ops/monitoring/").status_code == 302

    def test_the_operations_page_has_the_tab_bar_too(self, operator):
        html = client_for(operator).get("/admin/ops/").content.decode()
        assert re.search(r'<a href="/admin/ops/"[^>]*aria-current="page">Operations</a>', html)
        assert '<a href="/admin/ops/monitoring/">Monitoring</a>' in html
        assert 'id="module-web"' not in html  # the Operations page shows its own cards only

    def test_the_range_section_and_each_module_card_answer_alone(self, operator):
        client = client_for(operator)
        for name in ("1h", "6h", "24h", "7d"):
            html = client.get(f"/admin/ops/monitoring/performance/?range={name}").content.decode()
            assert html.startswith('<section id="mon-performance"') and f'data-range="{name}"' in html
        for name in MODULES:
            assert client.get(f"/admin/ops/partials/card/module-{name}/").status_code == 200

    def test_uptime_shows_its_share_of_the_range_with_a_trend_like_the_others(self, operator):
        now = timezone.now()
        HealthEvent.objects.create(module="database", status="healthy", at=now - datetime.timedelta(hours=2))
        HealthEvent.objects.create(module="database", status="down", at=now - datetime.timedelta(minutes=15))
        html = client_for(operator).get("/admin/ops/monitoring/performance/?range=1h").content.decode()
        uptime = re.search(r"<dt>Uptime</dt><dd>(.*?)</dd>", html, re.S).group(1)
        assert re.match(r"7[45](\.\d+)? % ", uptime)  # a quarter of the hour down
        assert 'class="mon-trend mon-trend-worse" title="Uptime, this window against the one before"' in uptime
        assert re.search(r'<span class="visually-hidden">down</span> −(4[89]|50) %', uptime)  # half the second half
        assert "no critical module (web, database, broker, workers) was down" in html


@pytest.mark.django_db
class ModulePageTests:
    def test_a_module_page_has_its_checks_meaning_charts_and_history(self, operator):
        stored(**STATUSES)
        services.health_store([runner.ModuleAnswer("search", "healthy", "", 1.0, ())], minutes=None)
        html = client_for(operator).get("/admin/ops/monitoring/modules/search/?range=24h").content.decode()
        assert '<section id="module-search"' in html
        assert "What its states mean" in html and "Half or more of the searches" in html
        assert 'data-chart-data="{&quot;module&quot;:&quot;search&quot;' in html and 'value="24h" checked' in html
        assert "down</strong> — search says so." in html and "→ <strong>healthy</strong>" in html

    def test_each_of_a_modules_charts_has_a_data_table_of_its_own(self, operator):
        # A minute of this test's own, hours ago: other tests record at the real time.
        clock.clock_set(series.bucket_start(time.time() - 2 * 3600 - random.randrange(300) * 60, 60) + 5)
        try:
            RECORDER.flush()
            RECORDER.observe(series.EMBED, "hashing", ("ok",), 0.012)
            RECORDER.observe(series.JOB, "embed", ("failed",), 3.5, error=True)
            RECORDER.observe(series.CHECK, "embeddings", ("healthy",), 0.004)
            RECORDER.flush()
            html = client_for(operator).get("/admin/ops/monitoring/modules/embeddings/charts/").content.decode()
        finally:
            clock.clock_reset()
        tables = re.findall(r"<table.*?</table>", html, re.S)
        assert [re.search(r"<caption>(\w[\w ]*),", t).group(1) for t in tables] == ["Jobs", "Embedding batches", "Health checks"]
        for table in tables:
            assert len(re.findall(r'<th scope="col">', table)) == 4  # time, count, failed, mean ms: a tablet's width
        assert "<td>1</td><td>1</td><td>3500.0</td>" in tables[0]

    def test_an_unknown_module_is_404_naming_the_thirteen(self, operator):
        response = client_for(operator).get("/admin/ops/monitoring/modules/nope/")
        assert response.status_code == 404
        assert client_for(operator).get("/admin/ops/monitoring/modules/nope/charts/").status_code == 404


@pytest.mark.django_db(transaction=True)
class MonitoringSocketTests:
    def test_the_monitoring_socket_gets_a_snapshot_of_its_own_cards_only(self, operator):
        stored()
        cookie = session_cookie(operator)

        async def scenario() -> str:
            socket, connected = await open_socket(cookie, path="/ws/ops/?view=monitoring")
            assert connected
            snapshot = await socket.receive_from(timeout=10)
            await socket.disconnect()
            return snapshot

        snapshot = async_to_sync(scenario)()
        assert seq_of(snapshot) == broadcasts.current_seq("monitoring")
        assert 'id="health-overview"' in snapshot and all(f'id="module-{name}"' in snapshot for name in MODULES)
        assert 'id="jobs-table"' not in snapshot and 'id="workers-card"' not in snapshot

    def test_a_status_change_is_pushed_to_monitoring_pages_and_not_to_the_operations_page(self, operator):
        stored()
        marker = f"marker-{uuid.uuid4().hex}"
        cookie = session_cookie(operator)

        async def scenario() -> tuple[str, list[str]]:
            monitoring, _ = await open_socket(cookie, path="/ws/ops/?view=monitoring")
            ops, _ = await open_socket(cookie)
            await monitoring.receive_from(timeout=10)
            await ops.receive_from(timeout=10)
            await sync_to_async(services.health_store)([runner.ModuleAnswer("cache", "down", "Gone.", 1.0, ())], minutes=None)
            await sync_to_async(broadcasts.card_changed)("module-cache")
            await sync_to_async(broadcasts.publish)(f'<div id="{marker}"></div>')  # after it, to the Operations page
            pushed = await receive_containing(monitoring, 'id="module-cache"')
            seen = [await ops.receive_from(timeout=10)]
            while marker not in seen[-1]:
                seen.append(await ops.receive_from(timeout=10))
            await monitoring.disconnect()
            await ops.disconnect()
            return pushed, seen

        pushed, seen = async_to_sync(scenario)()
        assert 'data-status="down"' in pushed and "Gone." in pushed and 'hx-swap-oob="true"' in pushed
        assert not any('id="module-cache"' in message for message in seen)
