"""Open and end silences, and mark the open alerts they match (DESIGN §11); each write is audited.

An alert matched by an active silence keeps being evaluated and recorded; `silenced_by` marks it
(and stays in its history after the silence ends), and the banners leave it out while that silence
is active. The evaluator calls alerts_mark_silenced every pass, so a silence that starts later, or an
alert that fires under one, is marked within a second; opening a silence marks at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from alerts import broadcasts
from alerts.models import OPEN_STATES, Alert, AlertRule, Metric, Severity, Silence
from audit.services import audit_record
from chlops.exceptions import ChlopsError
from monitoring.metrics.series import MODULES

MAX_DAYS = 30
COMMENT_MAX = 1000


class SilenceInvalid(ChlopsError):
    status = 400


class SilenceEnded(ChlopsError):
    status = 409


@dataclass(frozen=True)
class Matchers:
    rule: AlertRule | None = None
    metric: str = ""
    module: str = ""
    severity: str = ""

    def any(self) -> bool:
        return bool(self.rule or self.metric or self.module or self.severity)


def matchers_clean(*, rule: Any = None, metric: Any = "", module: Any = "", severity: Any = "") -> Matchers:
    """The matchers as stored, or SilenceInvalid naming the first unknown one (a rule by id or name)."""
    found_rule = None
    if rule not in (None, ""):
        found_rule = _rule(rule)
    for name, value, allowed in (
        ("metric", metric, Metric.values),
        ("module", module, MODULES),
        ("severity", severity, Severity.values),
    ):
        if value not in (None, "") and value not in allowed:
            raise SilenceInvalid(f"Unknown {name} {value!r}; use one of: {', '.join(allowed)}.", field=name)
    matchers = Matchers(rule=found_rule, metric=metric or "", module=module or "", severity=severity or "")
    if not matchers.any():
        raise SilenceInvalid(
            "Name at least one of rule, metric, module or severity: a silence of everything would hide every alert.",
            field="module",
        )
    return matchers


def _rule(value: Any) -> AlertRule:
    rows = AlertRule.objects.all()
    found = None
    if isinstance(value, int) and not isinstance(value, bool) or isinstance(value, str) and value.isdigit():
        found = rows.filter(pk=int(value)).first()
    elif isinstance(value, str):
        found = rows.filter(name=value).first()
    if found is None:
        raise SilenceInvalid(
            f"Unknown rule {value!r}; give a rule's id or name (GET /api/alerts shows them).", field="rule"
        )
    return found


def when_parse(value: Any, name: str) -> datetime | None:
    """An ISO 8601 time (UTC when it names no zone), None when empty, or SilenceInvalid."""
    if value in (None, ""):
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise SilenceInvalid(f"'{name}' must be a time like 2026-12-01T21:00:00Z, not {value!r}.", field=name)
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def span_clean(
    *, starts_at: datetime | None, ends_at: datetime | None, minutes: Any = None
) -> tuple[datetime, datetime]:
    """Start (now when not given) and end (given, or start + minutes); end after start, at most 30 days."""
    start = starts_at or timezone.now()
    if ends_at is None:
        if minutes in (None, ""):
            raise SilenceInvalid("Say when the silence ends: 'ends_at', or 'minutes' from its start.", field="ends_at")
        try:
            count = float(minutes)
        except (TypeError, ValueError):
            raise SilenceInvalid(f"'minutes' must be a number, not {minutes!r}.", field="minutes") from None
        if not 0 < count <= MAX_DAYS * 24 * 60:
            raise SilenceInvalid(f"'minutes' must be above 0 and at most {MAX_DAYS} days.", field="minutes")
        ends_at = start + timedelta(minutes=count)
    if ends_at <= start:
        raise SilenceInvalid("The silence ends before it starts; give an end after its start.", field="ends_at")
    if ends_at - start > timedelta(days=MAX_DAYS):
        raise SilenceInvalid(f"A silence lasts at most {MAX_DAYS} days; give an earlier end.", field="ends_at")
    return start, ends_at


def silence_fields(body: Any) -> dict[str, Any]:
    """A silence's fields from a JSON object (or a form), cleaned, or SilenceInvalid with a sentence."""
    if not hasattr(body, "get"):
        raise SilenceInvalid('Send a JSON object like {"module": "index", "minutes": 30, "comment": "reindexing"}.')
    matchers = matchers_clean(
        rule=body.get("rule"), metric=body.get("metric"), module=body.get("module"), severity=body.get("severity")
    )
    starts_at, ends_at = span_clean(
        starts_at=when_parse(body.get("starts_at"), "starts_at"),
        ends_at=when_parse(body.get("ends_at"), "ends_at"),
        minutes=body.get("minutes"),
    )
    return {"matchers": matchers, "starts_at": starts_at, "ends_at": ends_at, "comment": body.get("comment") or ""}


def silence_create(
    *,
    matchers: Matchers,
    starts_at: datetime,
    ends_at: datetime,
    comment: Any = "",
    actor: Any = None,
    source: str,
    job: Any = None,
) -> Silence:
    """Open a silence (already cleaned by matchers_clean and span_clean), audit it and mark what it matches."""
    if not isinstance(comment, str):
        raise SilenceInvalid("The comment must be text.", field="comment")
    comment = comment.strip()
    if len(comment) > COMMENT_MAX:
        raise SilenceInvalid(
            f"The comment is {len(comment)} characters long; keep it under {COMMENT_MAX}.", field="comment"
        )
    with transaction.atomic():
        silence = Silence.objects.create(
            rule=matchers.rule,
            metric=matchers.metric,
            module=matchers.module,
            severity=matchers.severity,
            starts_at=starts_at,
            ends_at=ends_at,
            comment=comment,
            author=actor if getattr(actor, "is_authenticated", False) else None,
            job=job,
            correlation_id=job.correlation_id if job is not None else None,
        )
        audit_record(
            action="silence.create",
            source=source,
            actor=actor,
            target=f"silence:{silence.pk}",
            details={
                "matchers": silence.matchers_text,
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
                "comment": comment,
                "job_id": job.pk if job is not None else None,
            },
            correlation_id=silence.correlation_id,
        )
        alerts_mark_silenced()
        broadcasts.alerts_changed()
    return silence


def silence_end(*, silence: Silence, actor: Any = None, source: str) -> Silence:
    """End a silence now (its alerts show again while they fire), or raise SilenceEnded."""
    now = timezone.now()
    with transaction.atomic():
        silence = Silence.objects.select_for_update().get(pk=silence.pk)
        if silence.ends_at <= now:
            raise SilenceEnded(f"Silence #{silence.pk} has already ended; there is nothing to end.")
        silence.ends_at = silence.ended_early_at = max(now, silence.starts_at)
        silence.save(update_fields=["ends_at", "ended_early_at"])
        audit_record(
            action="silence.end",
            source=source,
            actor=actor,
            target=f"silence:{silence.pk}",
            details={"matchers": silence.matchers_text, "job_id": silence.job_id},
            correlation_id=silence.correlation_id,
        )
        broadcasts.alerts_changed()
    return silence


def silences_active(now: datetime | None = None) -> list[Silence]:
    now = now or timezone.now()
    return list(Silence.objects.filter(starts_at__lte=now, ends_at__gt=now).select_related("job").order_by("id"))


def alerts_mark_silenced(now: datetime | None = None) -> int:
    """Mark each open alert with the active silence that matches it (kept once set); return how many changed."""
    active = silences_active(now)
    if not active:
        return 0
    changed = 0
    for alert in Alert.objects.filter(state__in=OPEN_STATES).select_related("rule"):
        metric = alert.rule.metric if alert.rule else ""
        if alert.silenced_by_id is not None and any(s.pk == alert.silenced_by_id for s in active):
            continue
        match = next((s for s in active if s.matches(alert, metric)), None)
        if match is not None:
            changed += Alert.objects.filter(pk=alert.pk).update(silenced_by=match)
    return changed


def silences_ended_between(start: datetime, end: datetime) -> bool:
    """Whether a silence ran out in (start, end]: its alerts are banners again."""
    return Silence.objects.filter(ends_at__gt=start, ends_at__lte=end, ended_early_at__isnull=True).exists()
