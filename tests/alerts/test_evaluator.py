"""The evaluator against the real store: metrics go in through the recorder, a pass reads them back."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from alerts.evaluator import evaluate_pass
from alerts.models import Alert, AlertState
from monitoring.metrics.series import MODULES
from monitoring.models import ModuleHealth
from tests.alerts.factories import a_rule, requests_recorded

pytestmark = pytest.mark.django_db


def alerts_of(rule) -> list[Alert]:
    return list(Alert.objects.filter(rule=rule).order_by("id"))


class Rate:
    """The web module's requests in the window, steered to an error rate by adding requests."""

    def __init__(self) -> None:
        self.n = self.e = 0

    def to(self, percent: float) -> None:
        r = percent / 100
        if self.n and self.e / self.n < r:
            errors = math.ceil((r * self.n - self.e) / (1 - r)) + 1
            requests_recorded("web", ok=0, failed=errors)
            self.n, self.e = self.n + errors, self.e + errors
        elif not self.n:
            errors = max(1, round(100 * r))
            requests_recorded("web", ok=100 - errors, failed=errors)
            self.n, self.e = 100, errors
        else:
            ok = math.ceil(self.e / r - self.n) + 1
            requests_recorded("web", ok=ok, failed=0)
            self.n += ok

    @property
    def percent(self) -> float:
        return 100 * self.e / self.n


class ForDurationTests:
    def test_a_breach_is_pending_until_it_lasted_for_then_fires_with_a_sentence(self, store_clock):
        rule = a_rule(for_seconds=60)
        requests_recorded("web", ok=93, failed=7)
        assert [c.what for c in evaluate_pass() if c.alert.rule_id == rule.pk] == ["pending"]
        store_clock.tick(30)
        evaluate_pass()
        assert [a.state for a in alerts_of(rule)] == [AlertState.PENDING]
        store_clock.tick(31)
        changes = [c for c in evaluate_pass() if c.alert.rule_id == rule.pk]
        assert [c.what for c in changes] == ["fired"]
        alert = alerts_of(rule)[0]
        assert alert.state == AlertState.FIRING and alert.value == pytest.approx(7.0)
        assert alert.message == "Error rate of web is 7 %, above 5 % for 1 minute"
        assert alert.fired_at == datetime.fromtimestamp(store_clock.at, tz=UTC)

    def test_no_traffic_is_no_breach(self, store_clock):
        rule = a_rule(for_seconds=0)
        requests_recorded("web", ok=0, failed=5)  # fewer requests than a rate says anything about
        evaluate_pass()
        assert alerts_of(rule) == []


class HysteresisTests:
    def test_an_alert_resolves_past_the_clear_threshold_only_and_never_reopens(self, store_clock):
        rule = a_rule(for_seconds=0, threshold=5.0, clear_threshold=4.0)
        requests_recorded("web", ok=90, failed=10)  # 10 %
        evaluate_pass()
        first = alerts_of(rule)[0]
        assert first.state == AlertState.FIRING
        store_clock.tick(1)
        requests_recorded("web", ok=100, failed=0)  # 5 %: under the threshold, above the clear threshold
        evaluate_pass()
        assert [a.state for a in alerts_of(rule)] == [AlertState.FIRING]
        store_clock.tick(1)
        requests_recorded("web", ok=100, failed=0)  # 3.3 %: past the clear threshold
        assert [c.what for c in evaluate_pass() if c.alert.rule_id == rule.pk] == ["resolved"]
        first.refresh_from_db()
        assert first.state == AlertState.RESOLVED and first.resolved_at is not None
        store_clock.tick(1)
        requests_recorded("web", ok=0, failed=50)  # 17 %: a new breach
        evaluate_pass()
        rows = alerts_of(rule)
        assert [a.state for a in rows] == [AlertState.RESOLVED, AlertState.FIRING]
        assert rows[1].pk != first.pk and rows[1].fingerprint == first.fingerprint

    def test_a_metric_flapping_every_second_opens_one_alert(self, store_clock):
        rule = a_rule(for_seconds=10, threshold=5.0, clear_threshold=4.0)
        rate = Rate()
        for second in range(14):
            rate.to(6.0 if second % 2 == 0 else 4.5)
            evaluate_pass()
            store_clock.tick(1)
        rows = alerts_of(rule)
        assert len(rows) == 1 and rows[0].state == AlertState.FIRING

    def test_flapping_across_the_clear_threshold_never_fires_for_a_long_for(self, store_clock):
        rule = a_rule(for_seconds=10, threshold=5.0, clear_threshold=4.0)
        rate = Rate()
        for second in range(14):  # each swing doubles the requests it takes: a few suffice
            rate.to(6.0 if second % 2 == 0 else 3.0)
            evaluate_pass()
            store_clock.tick(1)
        assert alerts_of(rule) == []  # each pending breach was withdrawn before it lasted 10 s


class StatusRuleTests:
    def test_module_down_fires_one_alert_per_module(self, store_clock):
        rule = a_rule(
            metric="module_status", module="", comparison=">=", threshold=2.0, clear_threshold=2.0, for_seconds=0
        )
        now = timezone.now()  # a round just now: nothing is derived from stale rounds
        statuses = {"search": "down", "index": "down", "cache": "degraded"}
        for module in MODULES:
            ModuleHealth.objects.create(
                module=module, status=statuses.get(module, "healthy"), since=now, checked_at=now
            )
        evaluate_pass()
        rows = alerts_of(rule)
        assert sorted(a.module for a in rows) == ["index", "search"]
        assert {a.message for a in rows} == {"Module index is down", "Module search is down"}
        ModuleHealth.objects.filter(module="search").update(status="healthy")
        evaluate_pass()
        assert {a.module: a.state for a in alerts_of(rule)} == {
            "index": AlertState.FIRING,
            "search": AlertState.RESOLVED,
        }

    def test_a_rule_switched_off_resolves_its_alert(self, store_clock):
        rule = a_rule(for_seconds=0)
        requests_recorded("web", ok=50, failed=50)
        evaluate_pass()
        rule.enabled = False
        rule.save()
        evaluate_pass()
        assert [a.state for a in alerts_of(rule)] == [AlertState.RESOLVED]
