"""Receivers that turn logins, logouts, lockouts and admin changes into audit rows."""

from __future__ import annotations

import functools
from typing import Any

from axes.helpers import get_cool_off
from axes.signals import user_locked_out
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry, LogEntryManager
from django.contrib.auth import get_user_model, user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest

from audit.context import current_request, request_source
from audit.models import Outcome
from audit.services import audit_record
from chlops.lockout import LoginAttemptHandler

ADMIN_ACTIONS = {ADDITION: "admin.add", CHANGE: "admin.change", DELETION: "admin.delete"}


@receiver(user_logged_in, dispatch_uid="audit.login")
def record_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    audit_record(
        action="auth.login", actor=user, source=request_source(request), target=user.get_username(), request=request
    )


@receiver(user_login_failed, dispatch_uid="audit.login_failed")
def record_login_failed(sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs: Any) -> None:
    # Django has already masked anything that looks secret; keep only the name that was tried.
    field = get_user_model().USERNAME_FIELD
    username = str(credentials.get(field) or credentials.get("username") or "")
    audit_record(
        action="auth.login_failed",
        source=request_source(request or current_request.get()),
        target=username,
        outcome=Outcome.FAILURE,
        details={"username": username},
        request=request,
    )


@receiver(user_locked_out, dispatch_uid="audit.locked_out")
def record_locked_out(sender: Any, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs: Any) -> None:
    # Axes signals again on every attempt it refuses while the lockout lasts, and each of those is an
    # auth.login_failed row already; only the failure that started the lockout has been counted.
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is None:
        return
    audit_record(
        action="auth.locked_out",
        source=request_source(request),
        target=username or "",
        outcome=Outcome.DENIED,
        details={
            "username": username or "",
            "ip_address": ip_address,
            "scope": LoginAttemptHandler().lockout_scope(request, getattr(request, "axes_credentials", None)),
            "failures": failures,
            "cool_off_minutes": int(get_cool_off(request).total_seconds() // 60),
        },
        request=request,
    )


@receiver(user_logged_out, dispatch_uid="audit.logout")
def record_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    audit_record(
        action="auth.logout",
        actor=user,
        source=request_source(request),
        target=user.get_username() if user else "",
        request=request,
    )


@receiver(post_save, sender=LogEntry, dispatch_uid="audit.admin_change")
def record_admin_change(sender: Any, instance: LogEntry, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if created and not raw:
        record_log_entry(instance)


def record_log_entry(entry: LogEntry) -> None:
    """Record one admin add, change or delete, as the admin's own LogEntry describes it."""
    content_type = entry.content_type
    audit_record(
        action=ADMIN_ACTIONS.get(entry.action_flag, "admin.unknown"),
        actor=entry.user,
        source="admin",
        target=entry.object_repr,
        details={
            "content_type": f"{content_type.app_label}.{content_type.model}" if content_type else None,
            "object_id": None if entry.object_id is None else str(entry.object_id),
            "object_repr": entry.object_repr,
            "change_message": entry.get_change_message(),
            "log_entry_id": entry.pk,
        },
    )


def audit_bulk_log_entries() -> None:
    """Audit the LogEntry rows the admin bulk-creates too: a multi-object delete sends no post_save."""
    original = LogEntryManager.log_actions
    if getattr(original, "audits_bulk", False):
        return

    @functools.wraps(original)
    def log_actions(self: LogEntryManager, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if isinstance(result, list) and len(result) > 1:
            for entry in result:
                record_log_entry(entry)
        return result

    log_actions.audits_bulk = True
    LogEntryManager.log_actions = log_actions


audit_bulk_log_entries()
