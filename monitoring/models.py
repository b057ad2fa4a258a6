"""Worker heartbeats; alerts and metrics arrive here in later issues."""

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
