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
    silenced_by = models.ForeignKey(
        "Silence",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
        help_text="The silence that matched it while open (kept in the history after the silence ends).",
    )

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


class Silence(models.Model):
    """Hide matching alerts' banners from start to end; they are still recorded, marked silenced.

    Each matcher left empty matches anything; at least one is set. A silence with a job is a
    maintenance window: opened when that job starts running and ended when it ends.
    """

    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.CASCADE, related_name="silences")
    metric = models.CharField(max_length=20, choices=Metric.choices, blank=True)
    module = models.CharField(max_length=20, blank=True)
    severity = models.CharField(max_length=8, choices=Severity.choices, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.TextField(blank=True)
    job = models.ForeignKey("operations.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="silences")
    correlation_id = models.UUIDField(null=True, blank=True, db_index=True)
    ended_early_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)
        indexes = [models.Index(fields=["ends_at"], name="silence_ends_at")]

    def __str__(self) -> str:
        return f"silence #{self.pk}"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.starts_at <= now < self.ends_at

    def matches(self, alert: Alert, metric: str) -> bool:
        return (
            (self.rule_id is None or self.rule_id == alert.rule_id)
            and (not self.metric or self.metric == metric)
            and (not self.module or self.module == alert.module)
            and (not self.severity or self.severity == alert.severity)
        )

    @property
    def matchers_text(self) -> str:
        parts = [
            f"rule {self.rule}" if self.rule_id else "",
            f"metric {self.get_metric_display()}" if self.metric else "",
            f"module {self.module}" if self.module else "",
            f"severity {self.severity}" if self.severity else "",
        ]
        return ", ".join(p for p in parts if p)

    @property
    def reason(self) -> str:
        """What an alert it silences says: 'maintenance: drain job #12' or 'silence #3 by olivia'."""
        if self.job_id:
            return f"maintenance: {self.job.type} job #{self.job_id}"
        by = f" by {self.author.get_username()}" if self.author_id else ""
        return f"silence #{self.pk}{by}"


class AlertPreference(models.Model):
    """What one person wants on their screen: banners of these metrics and modules (empty: all), and the sound."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_preference")
    metrics = models.JSONField(default=list, blank=True)
    modules = models.JSONField(default=list, blank=True)
    sound = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"alert preferences of {self.user}"
