"""The append-only, hash-chained audit log."""

from __future__ import annotations

from typing import NoReturn

from django.conf import settings
from django.db import models

from audit.managers import AuditLogImmutable, AuditLogQuerySet

__all__ = ["AuditLog", "AuditLogImmutable", "Outcome", "Source"]


class Source(models.TextChoices):
    WEB = "web"
    ADMIN = "admin"
    API = "api"
    CLI = "cli"
    CRON = "cron"
    SYSTEM = "system"


class Outcome(models.TextChoices):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class AuditLog(models.Model):
    # The primary key is the sequence number of the chain.
    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        # Rows outlive users: no cascade, no SET NULL (which would be an UPDATE), no FK constraint.
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_username = models.CharField(max_length=150, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    correlation_id = models.UUIDField(null=True, blank=True, db_index=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        permissions = [("export_auditlog", "Can export the audit log")]
        indexes = [
            models.Index(fields=["actor", "-created_at"], name="audit_actor_created"),
            models.Index(fields=["action", "-created_at"], name="audit_action_created"),
            models.Index(fields=["source", "-created_at"], name="audit_source_created"),
            models.Index(fields=["outcome", "-created_at"], name="audit_outcome_created"),
            # The auditors' usual page: one actor, one action, the last days, newest first.
            models.Index(fields=["actor", "action", "-created_at"], name="audit_actor_action_created"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} by {self.actor_username or 'system'}"

    def save(self, *args, **kwargs) -> None:
        # The one save() side effect the style allows: an audit row is never updated.
        if not self._state.adding:
            raise AuditLogImmutable("Audit log entries cannot be changed.")
        # Never let Django try an UPDATE first because the primary key is already set.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs) -> NoReturn:
        raise AuditLogImmutable(
            "Audit log entries cannot be deleted; use `python manage.py audit prune --before DATE`."
        )
