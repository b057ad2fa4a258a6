"""Alerts in Chromium: a breach shows a banner on the Operations page without reload; acknowledged by keyboard."""

from __future__ import annotations

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertPreference, AlertRule
from monitoring.models import ModuleHealth
from tests.browser.scenes import open_page
from tests.browser.test_dashboard import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WATCH = "() => { window.notReloaded = true; }"


class AlertBannerBrowserTests:
    def test_a_breach_shows_a_banner_live_and_is_acknowledged_by_keyboard(self, page, operator, worker):
        rule = AlertRule.objects.create(
            name="Search down (browser test)", metric="module_status", module="search", comparison=">=",
            threshold=2.0, clear_threshold=2.0, for_seconds=0, severity="critical",
        )  # fmt: skip
        log_in(page, operator)
        open_page(page, "/admin/ops/")
        page.evaluate(WATCH)
        assert page.locator("#alert-banners-operations [data-alert]").count() == 0
        now = timezone.now()
        ModuleHealth.objects.update_or_create(
            module="search", defaults={"status": "down", "since": now, "checked_at": now, "message": "no index"}
        )  # the breach: the worker's evaluator sees it within a second and pushes the banners
        banner = page.wait_for_selector("#alert-banners-operations .alert-critical[data-alert]", timeout=15_000)
        assert "Module search is down" in banner.text_content() and "Critical" in banner.text_content()
        assert page.evaluate("window.notReloaded") is True
        alert = Alert.objects.get(rule=rule)

        page.focus(f'[data-alert="{alert.pk}"] summary')
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        page.keyboard.type("restarting search")
        page.keyboard.press("Enter")
        owner = page.wait_for_selector(f'#alert-banners-operations [data-alert="{alert.pk}"] [data-alert-owner]')
        assert "olivia" in owner.inner_text() and "restarting search" in owner.inner_text()

        ModuleHealth.objects.filter(module="search").update(status="healthy")
        page.wait_for_selector(f'#alert-banners-operations [data-alert="{alert.pk}"]', state="detached", timeout=15_000)
        alert.refresh_from_db()
        assert alert.state == "resolved" and alert.acknowledged_by == operator


PLAYS = """
window.alertPlays = [];
HTMLMediaElement.prototype.play = function () { window.alertPlays.push(this.src); return Promise.resolve(); };
"""
ARRIVE = """([from, id, module]) => {
    const banner = document.querySelector(`[data-alert="${from}"]`).cloneNode(true);
    banner.setAttribute("data-alert", id);
    banner.setAttribute("data-module", module);
    banner.hidden = false;
    document.querySelector("#alert-banners-operations .alert-banners-live").appendChild(banner);
}"""


class AlertPreferenceBrowserTests:
    def test_banners_follow_the_viewers_modules_and_the_chime_waits_for_an_interaction(self, page, operator):
        AlertPreference.objects.create(user=operator, modules=["web"], sound=True)
        now = timezone.now()
        shown, hidden = (
            Alert.objects.create(
                module=module, severity="warning", message=f"Outside alert of {module}", threshold=1.0,
                fingerprint=f"pref-{module}", state="firing", started_at=now, fired_at=now,
            )
            for module in ("web", "cache")
        )  # fmt: skip
        page.add_init_script(PLAYS)  # counts what the page plays instead of playing it
        log_in(page, operator)
        open_page(page, "/admin/ops/")
        assert page.locator(f'[data-alert="{shown.pk}"]').is_visible()
        assert page.locator(f'[data-alert="{hidden.pk}"]').is_hidden()
        assert page.get_attribute("html", "data-alert-sound") == "waiting"

        page.evaluate(ARRIVE, [shown.pk, 990001, "web"])  # a new alert before any interaction: silence
        page.wait_for_timeout(200)
        assert page.evaluate("window.alertPlays") == []

        page.click("h1")
        assert page.get_attribute("html", "data-alert-sound") == "armed"
        page.evaluate(ARRIVE, [shown.pk, 990002, "cache"])  # a module this viewer left out: hidden, no chime
        page.wait_for_function("() => document.querySelector('[data-alert=\"990002\"]').hidden")
        assert page.evaluate("window.alertPlays") == []
        page.evaluate(ARRIVE, [shown.pk, 990003, "web"])
        page.wait_for_function("() => window.alertPlays.length === 1")
        assert page.evaluate("window.alertPlays")[0].endswith("/static/alerts/alert.wav")
