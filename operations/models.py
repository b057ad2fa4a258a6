"""Jobs, their history, uploads and API tokens."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from audit.models import Source


class JobState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.CANCELLING)
# Plain strings for conditions in Meta, which migrations copy; the same three as ACTIVE_STATES.
ACTIVE_STATE_NAMES = ["queued", "running", "cancelling"]
FINISHED_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


# Who asked for a job is said in the same words as in the audit log.
JobSource = Source


class Job(models.Model):
    type = models.CharField(max_length=32)  # indexed by job_type_id and job_type_created
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    phase = models.CharField(max_length=64, blank=True)
    done = models.BigIntegerField(default=0)
    total = models.BigIntegerField(null=True, blank=True)
    rate = models.FloatField(null=True, blank=True, help_text="Smoothed items per second, for the ETA.")
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    lock_key = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001 — NULL means "no lock", and NULLs never collide
    queue = models.CharField(max_length=32, default="jobs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # job_requester_created leads with it
    )
    source = models.CharField(max_length=16, choices=JobSource.choices, default=JobSource.WEB)
    correlation_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("view_dashboard", "Can see the operations dashboard"),
            ("run_jobs", "Can run, cancel and retry jobs"),
        ]
        constraints = [
            # The lock: at most one active job per lock key, on SQLite and PostgreSQL alike.
            models.UniqueConstraint(
                fields=["lock_key"],
                condition=Q(state__in=ACTIVE_STATE_NAMES),
                name="job_one_active_per_lock_key",
            ),
        ]
        indexes = [
            # The dashboard's and the API's pages: newest first, by keyset on the id.
            models.Index(fields=["state", "-id"], name="job_state_id"),
            models.Index(fields=["type", "-id"], name="job_type_id"),
            models.Index(fields=["state", "heartbeat_at"], name="job_state_heartbeat"),
            # The changelist: newest first and its date navigation, unfiltered or by state, type or requester,
            # each one index probe at a million jobs.
            models.Index(fields=["created_at"], name="job_created"),
            models.Index(fields=["state", "created_at"], name="job_state_created"),
            models.Index(fields=["type", "created_at"], name="job_type_created"),
            models.Index(fields=["requested_by", "created_at"], name="job_requester_created"),
            # The few unfinished jobs (a drain running, work in flight), found without walking the finished ones.
            models.Index(fields=["type", "id"], condition=Q(state__in=ACTIVE_STATE_NAMES), name="job_active_type"),
        ]

    def __str__(self) -> str:
        return f"{self.type} job #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def percent(self) -> float | None:
        if not self.total:
            return 100.0 if self.state == JobState.SUCCEEDED else None
        return round(min(100.0, 100.0 * self.done / self.total), 1)

    @property
    def eta_seconds(self) -> int | None:
        if self.state != JobState.RUNNING or not self.total or not self.rate or self.rate <= 0:
            return None
        return max(0, round((self.total - self.done) / self.rate))

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at
        if end is None:
            from django.utils import timezone

            end = timezone.now()
        return (end - self.started_at).total_seconds()


class HistoryKind(models.TextChoices):
    TRANSITION = "transition"
    PHASE = "phase"
    LOG = "log"


class JobHistory(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="history")
    at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=16, choices=HistoryKind.choices)
    state = models.CharField(max_length=16, blank=True)
    phase = models.CharField(max_length=64, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "job history"

    def __str__(self) -> str:
        return f"{self.job_id} {self.kind} {self.state or self.phase or self.message[:40]}"


class Upload(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def path(self):
        return settings.UPLOAD_DIR / str(self.id)


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, db_index=True, help_text="The first characters, to tell tokens apart.")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token; the token itself is never stored.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"
