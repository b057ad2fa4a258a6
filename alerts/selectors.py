"""Read alerts as the banners, the Alerts page, the API and the CSV export show them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from alerts.models import Alert, AlertPreference, AlertState, Severity, Silence
from monitoring.metrics.series import MODULES

STATES = ("firing", "pending", "resolved")
SEVERITIES = ("critical", "warning", "info")


def silenced_now(now: datetime | None = None) -> Q:
    """Alerts whose silence is active now: the banners leave them out."""
    now = now or timezone.now()
    return Q(silenced_by__starts_at__lte=now, silenced_by__ends_at__gt=now)


def alerts_firing(*, banners: bool = False) -> list[Alert]:
    """Firing alerts, critical first, newest first within a severity; for banners, none that is silenced now."""
    rank = Case(
        When(severity=Severity.CRITICAL, then=Value(0)),
        When(severity=Severity.WARNING, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    rows = Alert.objects.filter(state=AlertState.FIRING)
    if banners:
        rows = rows.exclude(silenced_now())
    return list(
        rows.select_related("acknowledged_by", "rule", "silenced_by__job", "silenced_by__author")
        .annotate(rank=rank)
        .order_by("rank", "-fired_at", "-id")
    )


@dataclass(frozen=True)
class AlertFilters:
    """What the history shows: anything not offered is ignored, as the other ops pages do."""

    severity: str = ""
    state: str = ""
    module: str = ""

    @classmethod
    def from_query(cls, query: Any) -> AlertFilters:
        severity, state, module = (query.get(name) or "" for name in ("severity", "state", "module"))
        return cls(
            severity=severity if severity in SEVERITIES else "",
            state=state if state in STATES else "",
            module=module if module in MODULES else "",
        )

    def query(self) -> dict[str, str]:
        return {name: value for name, value in self.__dict__.items() if value}


@dataclass(frozen=True)
class AlertPage:
    alerts: list[Alert]
    older: int | None  # the cursor of the next page, None on the last


def alerts_filtered(filters: AlertFilters) -> QuerySet[Alert]:
    rows = Alert.objects.exclude(state=AlertState.PENDING) if filters.state != "pending" else Alert.objects.all()
    for name in ("severity", "state", "module"):
        if value := getattr(filters, name):
            rows = rows.filter(**{name: value})
    return rows.select_related("acknowledged_by", "rule", "silenced_by__job", "silenced_by__author").order_by("-id")


def alert_page(filters: AlertFilters, *, before: int | None = None, size: int = 25) -> AlertPage:
    """One page of the history, newest first, by keyset (id < before): no COUNT of the table."""
    rows = alerts_filtered(filters)
    if before is not None:
        rows = rows.filter(id__lt=before)
    found = list(rows[: size + 1])
    older = found[size - 1].pk if len(found) > size else None
    return AlertPage(alerts=found[:size], older=older)


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "rule": alert.rule.name if alert.rule else None,
        "module": alert.module,
        "severity": alert.severity,
        "state": alert.state,
        "message": alert.message,
        "value": alert.value,
        "threshold": alert.threshold,
        "fingerprint": alert.fingerprint,
        "started_at": alert.started_at.isoformat(),
        "fired_at": alert.fired_at.isoformat() if alert.fired_at else None,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "acknowledged_by": alert.acknowledged_by.get_username() if alert.acknowledged_by else None,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "comment": alert.comment,
        "silenced_by": alert.silenced_by.reason if alert.silenced_by else None,
        "silence_id": alert.silenced_by_id,
        "duration_seconds": round(alert.duration_seconds, 1) if alert.duration_seconds is not None else None,
    }


def silences_recent(*, limit: int = 100) -> tuple[list[Silence], list[Silence]]:
    """Active and upcoming silences (soonest end first), then the latest expired ones (newest first)."""
    now = timezone.now()
    rows = Silence.objects.select_related("rule", "author", "job")
    current = list(rows.filter(ends_at__gt=now).order_by("ends_at", "id")[:limit])
    expired = list(rows.filter(ends_at__lte=now).order_by("-ends_at", "-id")[:limit])
    return current, expired


def silence_json(silence: Silence) -> dict[str, Any]:
    now = timezone.now()
    return {
        "id": silence.pk,
        "rule": silence.rule.name if silence.rule else None,
        "metric": silence.metric or None,
        "module": silence.module or None,
        "severity": silence.severity or None,
        "starts_at": silence.starts_at.isoformat(),
        "ends_at": silence.ends_at.isoformat(),
        "ended_early": silence.ended_early_at is not None,
        "active": silence.starts_at <= now < silence.ends_at,
        "author": silence.author.get_username() if silence.author else None,
        "comment": silence.comment,
        "job_id": silence.job_id,
        "correlation_id": str(silence.correlation_id) if silence.correlation_id else None,
        "reason": silence.reason,
    }


def preference_of(user: Any) -> AlertPreference:
    """The user's preference, or the default one (every alert, no sound) unsaved: a read never writes."""
    if getattr(user, "is_authenticated", False):
        found = AlertPreference.objects.filter(user=user).first()
        if found is not None:
            return found
    return AlertPreference(metrics=[], modules=[], sound=False)
