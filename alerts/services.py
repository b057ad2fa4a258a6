"""Write alerts, rules and preferences on people's behalf: acknowledge an alert, change a rule; each is audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from alerts import broadcasts
from alerts.models import Alert, AlertPreference, AlertRule, AlertState, Comparison, Metric
from alerts.readings import READERS
from audit.services import audit_record
from chlops.exceptions import ChlopsError
from monitoring.metrics.series import MODULES

COMMENT_MAX = 1000
RULE_FIELDS = ("threshold", "for_seconds", "clear_threshold", "severity", "enabled")


class AlertResolved(ChlopsError):
    status = 409


class RuleInvalid(ChlopsError):
    status = 400


def alert_acknowledge(*, alert: Alert, actor: Any, comment: str = "", source: str) -> Alert:
    """Claim an open alert (it stays shown until it resolves), or raise AlertResolved."""
    if not isinstance(comment, str):
        raise ChlopsError("The comment must be text; send it as a string, or leave it out.")
    comment = comment.strip()
    if len(comment) > COMMENT_MAX:
        raise ChlopsError(f"The comment is {len(comment)} characters long; keep it under {COMMENT_MAX}.")
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.state == AlertState.RESOLVED:
            raise AlertResolved("This alert has already resolved; there is nothing left to acknowledge.")
        before = alert.acknowledged_by.get_username() if alert.acknowledged_by else None
        alert.acknowledged_by, alert.acknowledged_at, alert.comment = actor, timezone.now(), comment
        alert.save(update_fields=["acknowledged_by", "acknowledged_at", "comment"])
        audit_record(
            action="alert.acknowledge",
            source=source,
            actor=actor,
            target=f"alert:{alert.pk}",
            details={"message": alert.message, "comment": comment, "previous_owner": before},
        )
        broadcasts.alerts_changed()
    return alert


def rule_update(*, rule: AlertRule, changes: dict[str, Any], actor: Any, source: str) -> AlertRule:
    """Change a rule's threshold, for, clear threshold, severity or on/off; audit the old and new values."""
    cleaned = rule_clean(rule, changes)
    old = {name: getattr(rule, name) for name in cleaned}
    changed = {name: value for name, value in cleaned.items() if old[name] != value}
    if not changed:
        return rule
    with transaction.atomic():
        for name, value in changed.items():
            setattr(rule, name, value)
        rule.save(update_fields=list(changed))
        audit_record(
            action="alert_rule.update",
            source=source,
            actor=actor,
            target=f"alert_rule:{rule.pk}",
            details={"rule": rule.name, "old": {n: old[n] for n in changed}, "new": changed},
        )
    return rule


def rule_clean(rule: AlertRule, changes: dict[str, Any]) -> dict[str, Any]:
    """The changes as the rule's types, or RuleInvalid naming the first bad field."""
    unknown = sorted(set(changes) - set(RULE_FIELDS))
    if unknown:
        raise RuleInvalid(
            f"'{unknown[0]}' cannot be changed; change any of: {', '.join(RULE_FIELDS)}.", field=unknown[0]
        )
    cleaned: dict[str, Any] = {}
    for name, value in changes.items():
        cleaned[name] = _field(name, value)
    threshold = cleaned.get("threshold", rule.threshold)
    clear = cleaned.get("clear_threshold", rule.clear_threshold)
    if clear is not None:
        upward = rule.comparison in (Comparison.GT, Comparison.GE)
        if (upward and clear > threshold) or (not upward and clear < threshold):
            side = "at or below" if upward else "at or above"
            raise RuleInvalid(
                f"'clear_threshold' must be {side} the threshold ({threshold:g}), so that an alert resolves "
                "only once the value is back past it.",
                field="clear_threshold",
            )
    if READERS[rule.metric].status and "threshold" in cleaned and cleaned["threshold"] not in (1.0, 2.0):
        raise RuleInvalid("'threshold' of a status rule is 1 (degraded) or 2 (down).", field="threshold")
    return cleaned


def _field(name: str, value: Any) -> Any:
    if name in ("threshold", "clear_threshold"):
        if name == "clear_threshold" and value in (None, ""):
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise RuleInvalid(f"'{name}' must be a number, not {value!r}.", field=name) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise RuleInvalid(f"'{name}' must be a finite number.", field=name)
        return number
    if name == "for_seconds":
        try:
            seconds = int(str(value))
        except ValueError:
            raise RuleInvalid(f"'for_seconds' must be a whole number of seconds, not {value!r}.", field=name) from None
        if not 0 <= seconds <= 86400:
            raise RuleInvalid("'for_seconds' must be between 0 and 86400 (a day).", field=name)
        return seconds
    if name == "severity":
        if value not in ("info", "warning", "critical"):
            raise RuleInvalid("'severity' must be one of: info, warning, critical.", field=name)
        return value
    if isinstance(value, bool):
        return value
    if value in ("true", "on", "1", 1):
        return True
    if value in ("false", "off", "0", 0, ""):
        return False
    raise RuleInvalid("'enabled' must be true or false.", field=name)


def preference_save(*, user: Any, metrics: list[str], modules: list[str], sound: bool, source: str) -> AlertPreference:
    """Keep which metrics and modules the user wants banners for (none chosen: all), and the sound."""
    unknown = [m for m in metrics if m not in Metric.values]
    if unknown:
        raise ChlopsError(f"Unknown metric {unknown[0]!r}; choose among: {', '.join(Metric.values)}.", field="metrics")
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        raise ChlopsError(f"Unknown module {unknown[0]!r}; choose among: {', '.join(MODULES)}.", field="modules")
    with transaction.atomic():
        preference, _ = AlertPreference.objects.update_or_create(
            user=user, defaults={"metrics": sorted(set(metrics)), "modules": sorted(set(modules)), "sound": sound}
        )
        audit_record(
            action="alert_preference.update",
            source=source,
            actor=user,
            target=f"user:{user.pk}",
            details={"metrics": preference.metrics, "modules": preference.modules, "sound": sound},
        )
    return preference
