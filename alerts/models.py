"""Alert rules and the alerts they raised (DESIGN §11): the rows are the history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Metric(models.TextChoices):
    ERROR_RATE = "error_rate", "Error rate"
    P95_LATENCY = "p95_latency", "p95 response time"
    QUEUE_LENGTH = "queue_length", "Queue length"
    CACHE_HIT_RATE = "cache_hit_rate", "Cache hit rate"
    WORKER_HEALTH = "worker_health", "Worker health"
    MODULE_STATUS = "module_status", "Module status"


class Comparison(models.TextChoices):
    GT = ">", "above"
    GE = ">=", "at or above"
    LT = "<", "below"
    LE = "<=", "at or below"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


class AlertRule(models.Model):
    name = models.CharField(max_length=80, unique=True)
    metric = models.CharField(max_length=20, choices=Metric.choices)
    module = models.CharField(
        max_length=20, blank=True, help_text="Empty: the whole system (module status: each module)."
    )
    comparison = models.CharField(max_length=2, choices=Comparison.choices, default=Comparison.GT)
    threshold = models.FloatField()
    for_seconds = models.PositiveIntegerField(default=0, help_text="How long the breach must last before it fires.")
    clear_threshold = models.FloatField(
        null=True, blank=True, help_text="Where a firing alert resolves (hysteresis); empty: the threshold."
    )
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.WARNING)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ("metric", "module", "name")

    def __str__(self) -> str:
        return self.name

    @property
    def clear_at(self) -> float:
        return self.threshold if self.clear_threshold is None else self.clear_threshold


class AlertState(models.TextChoices):
    PENDING = "pending", "Pending"
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


OPEN_STATES = (AlertState.PENDING, AlertState.FIRING)


class Alert(models.Model):
    rule = models.ForeignKey(AlertRule, null=True, on_delete=models.SET_NULL, related_name="alerts")
    module = models.CharField(max_length=20, blank=True)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    message = models.CharField(max_length=300, blank=True)
    value = models.FloatField(null=True)
    threshold = models.FloatField()
    fingerprint = models.CharField(max_length=40)
    state = models.CharField(max_length=8, choices=AlertState.choices, default=AlertState.PENDING)
    started_at = models.DateTimeField(help_text="When the breach began (pending since).")
    fired_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ("-id",)
        indexes = [
            models.Index(fields=["state", "-id"], name="alert_state_id"),
            models.Index(fields=["fired_at"], name="alert_fired_at"),
            models.Index(fields=["severity", "-id"], name="alert_severity_id"),
            models.Index(fields=["module", "-id"], name="alert_module_id"),
        ]
        constraints = [
            # One open alert per breach: two evaluators, or a retry, cannot fire it twice.
            models.UniqueConstraint(fields=["fingerprint"], condition=Q(state__in=OPEN_STATES), name="alert_one_open"),
        ]

    def __str__(self) -> str:
        return self.message or f"{self.rule} ({self.state})"

    @property
    def duration_seconds(self) -> float | None:
        if self.fired_at is None:
            return None
        end = self.resolved_at or timezone.now()
        return max(0.0, (end - self.fired_at).total_seconds())
