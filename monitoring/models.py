"""Worker heartbeats and the modules' health; alerts arrive here in a later issue."""

from __future__ import annotations

from django.db import models


class WorkerState(models.TextChoices):
    ONLINE = "online"
    PAUSED = "paused"
    DRAINING = "draining"
    OFFLINE = "offline"


class WorkerHeartbeat(models.Model):
    """One row per Celery worker hostname, upserted by the worker itself every few seconds."""

    hostname = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=16, default="cloud")
    gpu = models.BooleanField(default=False)
    queues = models.JSONField(default=list, blank=True, help_text="Queues the worker consumes right now.")
    configured_queues = models.JSONField(default=list, blank=True, help_text="Queues it was started with.")
    state = models.CharField(max_length=16, choices=WorkerState.choices, default=WorkerState.ONLINE)
    active = models.JSONField(default=list, blank=True, help_text="Jobs it is running: [{id, type}].")
    processed = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    rate_per_minute = models.FloatField(default=0)
    load = models.FloatField(null=True, blank=True)
    memory_bytes = models.BigIntegerField(null=True, blank=True)
    version = models.CharField(max_length=64, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    up_since = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname


class ModuleStatus(models.TextChoices):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    DOWN = "down"


class ModuleHealth(models.Model):
    """The latest health round's answer for one module (13 rows), written by the round every 10 s."""

    module = models.CharField(max_length=32, unique=True)
    status = models.CharField(max_length=16, choices=ModuleStatus.choices)
    since = models.DateTimeField(help_text="When the module entered this status.")
    message = models.TextField(blank=True, help_text="What is wrong, in a sentence; empty when healthy.")
    response_time_ms = models.FloatField(default=0)
    checks = models.JSONField(default=list, blank=True, help_text="Each check: name, about, status, message, ms.")
    error_count = models.IntegerField(default=0, help_text="Errors over the last 24 hours.")
    trend = models.JSONField(null=True, blank=True, help_text="Response time, this hour against the one before.")
    anomalies = models.JSONField(default=list, blank=True)
    checked_at = models.DateTimeField()

    class Meta:
        ordering = ["module"]
        verbose_name_plural = "module health"

    def __str__(self) -> str:
        return f"{self.module}: {self.status}"


class HealthEvent(models.Model):
    """A module's status changed: the history behind "since when"."""

    module = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=ModuleStatus.choices)
    previous = models.CharField(max_length=16, blank=True)
    message = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        indexes = [
            models.Index(fields=["module", "-at"], name="healthevent_module_at"),
            models.Index(fields=["at"], name="healthevent_at"),
            models.Index(fields=["status", "-at"], name="healthevent_status_at"),  # the admin's status filter
        ]

    def __str__(self) -> str:
        return f"{self.module}: {self.previous or 'unknown'} → {self.status}"
