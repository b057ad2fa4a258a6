"""The Monitoring page in Chromium: the 13 cards, filtered and sorted by keyboard with the choice in the
URL, a range that redraws every chart, a module that turns degraded live when it breaks and back, and the
infrastructure cards (Clear cache asks first)."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache

from audit.models import AuditLog
from indexes.store import index_manifest, served_dir
from monitoring.health import services
from monitoring.metrics import RECORDER
from tests.browser import dialogs
from tests.browser.scenes import busy_scene, open_page
from tests.browser.test_dashboard import log_in
from tests.conftest import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shown_modules(page) -> list[tuple[str, str]]:
    """(module, status) of the cards shown, in page order."""
    return page.eval_on_selector_all(
        "#mon-modules > li:not([hidden]) .mon-module", "cards => cards.map(c => [c.dataset.module, c.dataset.status])"
    )


class MonitoringPageTests:
    def test_an_operator_filters_sorts_and_picks_a_range_by_keyboard(self, page, operator, worker):
        busy_scene(operator, seed=61)
        services.health_round()
        log_in(page, operator)
        open_page(page, "/admin/ops/monitoring/")
        assert page.locator("#mon-modules .mon-module").count() == 13
        assert page.text_content("#health-overview .mon-status-word") in ("healthy", "degraded", "down")
        statuses = dict(shown_modules(page))
        assert len(statuses) == 13

        # Show: All → Healthy with the arrow key, as a radio group does.
        page.focus('#mon-controls input[name="status"][value="all"]')
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => new URL(location).searchParams.get('status') === 'healthy'")
        assert shown_modules(page) and all(status == "healthy" for _, status in shown_modules(page))
        assert len(shown_modules(page)) == sum(1 for s in statuses.values() if s == "healthy")

        # Back to all, then sort by status: the worst come first.
        page.keyboard.press("ArrowLeft")
        page.wait_for_function("() => new URL(location).searchParams.get('status') === 'all'")
        page.focus("#mon-sort")
        page.keyboard.press("ArrowDown")  # Name → Status
        page.wait_for_function("() => new URL(location).searchParams.get('sort') === 'status'")
        order = [status for _, status in shown_modules(page)]
        rank = {"down": 0, "degraded": 1, "unknown": 2, "healthy": 3}
        assert order == sorted(order, key=rank.get)

        # The choices survive a reload: they are in the URL.
        page.reload()
        assert page.is_checked('#mon-controls input[name="status"][value="all"]')
        assert page.eval_on_selector("#mon-sort", "s => s.value") == "status"

        # A range picked by keyboard redraws every chart of the section.
        page.wait_for_selector('#mon-performance[data-drawn-range="1h"] [data-chart="latency"] canvas')
        page.focus('#mon-performance input[name="range"][value="1h"]')
        page.keyboard.press("ArrowRight")
        page.wait_for_selector('#mon-performance[data-drawn-range="6h"] [data-chart="latency"] canvas')
        assert re.search(r"[?&]range=6h", page.url)
        for chart in ("latency", "rate", "errors"):
            assert page.get_attribute(f'#mon-performance [data-chart="{chart}"]', "data-drawn") == "361 points"
        assert "last 6h" in page.inner_text("#mon-performance .mon-summary")
        assert page.evaluate("document.activeElement.value") == "6h"  # the focus stays on the range picked

    def test_a_module_turns_degraded_live_when_it_breaks_and_healthy_when_mended(self, page, operator):
        busy_scene(operator, seed=62)
        services.health_round()
        log_in(page, operator)
        open_page(page, "/admin/ops/monitoring/")
        page.wait_for_selector('#module-index[data-status="healthy"]')
        name = sorted(index_manifest()["files"])[0]
        served = served_dir() / name
        away = served.with_name(f"{name}.away")
        served.rename(away)
        try:
            services.health_round()  # what beat starts every 10 s
            page.wait_for_selector('#module-index[data-status="degraded"]', timeout=10_000)
            assert "cannot be read" in page.inner_text("#module-index .mon-message")
            assert page.text_content("#module-index .mon-status-word") == "degraded"
        finally:
            away.rename(served)
        services.health_round()
        page.wait_for_selector('#module-index[data-status="healthy"]', timeout=10_000)
        wait_for(lambda: page.locator("#module-index .mon-message").count() == 0, message="the message to go")

    def test_a_module_page_shows_its_checks_and_draws_its_charts(self, page, operator):
        busy_scene(operator, seed=63)
        services.health_round()
        RECORDER.flush()  # the round's check times, which this page charts
        log_in(page, operator)
        open_page(page, "/admin/ops/monitoring/modules/database/")
        assert page.locator("#mon-checks-heading").count() == 1
        assert page.locator("text=SELECT 1").count() >= 1
        page.wait_for_selector('#mon-module-charts [data-chart="family"] canvas')


class InfrastructureCardsTests:
    def test_the_scene_fills_the_database_cache_and_workers_cards(self, page, operator):
        scene = busy_scene(operator, seed=64)
        log_in(page, operator)
        open_page(page, "/admin/ops/monitoring/")
        assert page.locator("#database-card .mon-slow-log tbody tr").count() >= 1  # what axe, CSP and 768 px see
        assert "'x'" not in page.inner_text("#database-card .mon-slow-log")
        assert page.locator('#cache-card .mon-top-keys tr[data-prefix="views"]').count() == 1
        assert page.locator(f'#worker-status-card li[data-failed-job="{scene.failed.pk}"] a').count() == 1

    def test_clear_cache_asks_first_keeps_the_keys_when_cancelled_and_clears_them_when_confirmed(self, page, operator):
        keys = {"h10b:a": 1, "h10b:b": 2}
        cache.set_many(keys)
        log_in(page, operator)
        open_page(page, "/admin/ops/monitoring/")

        page.click("#cache-clear")
        assert dialogs.dismiss(page).startswith("Clear the cache?")
        assert cache.get_many(list(keys)) == keys
        assert not AuditLog.objects.filter(action="cache.clear").exists()

        page.click("#cache-clear")
        assert "the broker's queues and the live updates are not touched" in dialogs.confirm(page)
        page.mouse.move(0, 0)  # a toast under the pointer waits for it to leave
        toast = page.wait_for_selector("#ops-toasts-polite .ops-toast")
        assert "removed; the broker's and the channel layer's keys were left alone" in toast.inner_text()
        assert cache.get_many(list(keys)) == {}
        assert "removed" in page.inner_text("#cache-card-answer")
        row = AuditLog.objects.get(action="cache.clear")
        assert row.actor == operator and row.details["removed"] >= 2
