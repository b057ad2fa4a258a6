"""One evaluation pass: read what the enabled rules watch, move their alerts pending → firing → resolved.

A rule's condition is on while the value breaches the threshold, and stays on (hysteresis) until the
value is past the clear threshold: compared the same way, a value that still "breaches" the clear
threshold keeps the alert. An alert is pending from the first breach and fires once the breach has
lasted `for_seconds`; a pending alert whose condition goes off is withdrawn (it never was an alert),
a firing one resolves. A resolved alert never reopens: the next breach opens a new row.
"""

from __future__ import annotations

import hashlib
import operator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts import broadcasts, sentences, silences
from alerts.models import Alert, AlertRule, AlertState, Comparison
from alerts.readings import READERS, values_read
from monitoring.metrics import clock
from monitoring.metrics.series import MODULES

COMPARE = {
    Comparison.GT: operator.gt,
    Comparison.GE: operator.ge,
    Comparison.LT: operator.lt,
    Comparison.LE: operator.le,
}


@dataclass(frozen=True)
class Changed:
    """What a pass did to one alert: "pending", "fired", "withdrawn" or "resolved"."""

    what: str
    alert: Alert

    def __str__(self) -> str:
        return f"{self.what}: #{self.alert.pk} {self.alert.message or self.alert.fingerprint}"


def fingerprint(rule: AlertRule, module: str) -> str:
    return hashlib.sha1(f"{rule.pk}|{module}".encode()).hexdigest()[:16]


def breaches(rule: AlertRule, value: float | None) -> bool:
    return value is not None and COMPARE[rule.comparison](value, rule.threshold)


def holds(rule: AlertRule, value: float | None) -> bool:
    """Whether an open alert stays open: still on the wrong side of the clear threshold."""
    return value is not None and COMPARE[rule.comparison](value, rule.clear_at)


def targets(rule: AlertRule) -> list[str]:
    """The modules a rule watches apart: each module for a per-module metric without a module."""
    return list(MODULES) if READERS[rule.metric].per_module and not rule.module else [rule.module]


def evaluate_pass() -> list[Changed]:
    """Evaluate every enabled rule once against the store's latest values; push the banners if anything changed."""
    now = datetime.fromtimestamp(clock.now(), tz=UTC)
    rules = list(AlertRule.objects.filter(enabled=True))
    wanted: dict[str, set[str]] = {}
    for rule in rules:
        wanted.setdefault(rule.metric, set()).add(rule.module)
    values = values_read(wanted)
    # Alerts of no rule (an outside source's) are not this evaluator's to close.
    open_alerts = {
        a.fingerprint: a
        for a in Alert.objects.filter(state__in=(AlertState.PENDING, AlertState.FIRING), rule__isnull=False)
    }
    changes: list[Changed] = []
    for rule in rules:
        for module in targets(rule):
            value = values.get((rule.metric, module))
            change = _step(rule, module, value, open_alerts.pop(fingerprint(rule, module), None), now)
            if change is not None:
                changes.append(change)
    # Alerts of rules switched off or deleted since they opened: nothing watches them any more.
    for alert in open_alerts.values():
        changes.append(_close(alert, now))
    # Silences run on the wall clock (people set them), not the store's.
    wall = timezone.now()
    marked = silences.alerts_mark_silenced(wall)
    expired = _last_pass[0] is not None and silences.silences_ended_between(_last_pass[0], wall)
    _last_pass[0] = wall
    if marked or expired or any(change.what in ("fired", "resolved") for change in changes):
        broadcasts.alerts_changed()
    return changes


# When this process last evaluated: a silence that ran out since then brings its alerts' banners back.
_last_pass: list[datetime | None] = [None]


def _step(rule: AlertRule, module: str, value: float | None, alert: Alert | None, now: datetime) -> Changed | None:
    if alert is None:
        if not breaches(rule, value):
            return None
        alert = _open(rule, module, value, now)
        if alert is None:
            return None  # another evaluator opened it a moment ago
        if rule.for_seconds > 0:
            return Changed("pending", alert)
    elif not holds(rule, value):
        return _close(alert, now)
    if alert.state == AlertState.PENDING and (now - alert.started_at).total_seconds() >= rule.for_seconds:
        alert.state, alert.fired_at, alert.value = AlertState.FIRING, now, value
        alert.message = sentences.alert_sentence(rule, module, value, since=alert.started_at, now=now)
        alert.save(update_fields=["state", "fired_at", "value", "message"])
        return Changed("fired", alert)
    return None


def _open(rule: AlertRule, module: str, value: float | None, now: datetime) -> Alert | None:
    try:
        with transaction.atomic():
            return Alert.objects.create(
                rule=rule,
                module=module,
                severity=rule.severity,
                value=value,
                threshold=rule.threshold,
                fingerprint=fingerprint(rule, module),
                state=AlertState.PENDING,
                started_at=now,
            )
    except IntegrityError:
        return None


def _close(alert: Alert, now: datetime) -> Changed:
    if alert.state == AlertState.PENDING:
        Alert.objects.filter(pk=alert.pk, state=AlertState.PENDING).delete()
        return Changed("withdrawn", alert)
    Alert.objects.filter(pk=alert.pk, state=AlertState.FIRING).update(state=AlertState.RESOLVED, resolved_at=now)
    alert.state, alert.resolved_at = AlertState.RESOLVED, now
    return Changed("resolved", alert)
