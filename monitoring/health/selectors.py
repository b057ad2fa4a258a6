"""Read the modules' health as the cards, the API and the `health` command show it.

Reads only. What the last round stored is the answer, except where this process can see for itself
that it no longer holds: Redis not answering puts broker, event bus and cache down at once, and a
round older than three intervals means rounds stopped, which says that no worker runs them (workers
down) or that beat does not start them (scheduler down).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from monitoring import selectors as worker_selectors
from monitoring.health.modules import ALL, Module, module_get
from monitoring.health.runner import DOWN, HEALTHY, ModuleAnswer, overall
from monitoring.metrics.series import CRITICAL
from monitoring.models import HealthEvent, ModuleHealth
from operations import queueing, registry
from operations.models import Job, JobState

UNKNOWN = "unknown"  # not checked yet
REDIS_MODULES = ("broker", "event_bus", "cache")
ICONS = {HEALTHY: "✓", "degraded": "!", DOWN: "✕", UNKNOWN: "?"}


@dataclass
class ModuleView:
    module: Module
    status: str = UNKNOWN
    message: str = ""
    since: datetime | None = None
    response_time_ms: float | None = None
    error_count: int | None = None
    trend: dict | None = None
    anomalies: list[dict] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)
    checked_at: datetime | None = None
    derived: bool = False  # the status is what this process sees now, not the last round's

    @property
    def name(self) -> str:
        return self.module.name

    @property
    def icon(self) -> str:
        return ICONS[self.status]

    @property
    def rank(self) -> int:
        return {DOWN: 0, "degraded": 1, UNKNOWN: 2, HEALTHY: 3}[self.status]

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "response_time_ms": self.response_time_ms,
            "error_count": self.error_count,
            "trend": self.trend,
            "anomalies": self.anomalies,
            "message": self.message,
            "since": self.since.isoformat() if self.since else None,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
            "critical": self.module.critical,
        }


@dataclass
class Overview:
    status: str
    modules: list[ModuleView]
    checked_at: datetime | None
    stale: bool
    note: str = ""  # why a status is derived, or why the rounds look stopped

    def module(self, name: str) -> ModuleView:
        return next(view for view in self.modules if view.name == name)

    @property
    def icon(self) -> str:
        return ICONS[self.status]

    @property
    def counts(self) -> list[tuple[str, int]]:
        """How many modules are in each status, worst first, for the statuses some module is in."""
        order = (DOWN, "degraded", UNKNOWN, HEALTHY)
        return [(status, n) for status in order if (n := sum(1 for v in self.modules if v.status == status))]

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "timestamp": timezone.now().isoformat(),
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
            "stale": self.stale,
            "note": self.note,
            "modules": {view.name: view.as_json() for view in self.modules},
        }


def stale_after() -> timedelta:
    return timedelta(seconds=3 * settings.CHLOPS_HEALTH_INTERVAL)


def health_overview() -> Overview:
    """Every module as the last round found it, corrected by what this process sees now."""
    rows = {row.module: row for row in ModuleHealth.objects.all()}
    views = [_view(module, rows.get(module.name)) for module in ALL]
    checked = [view.checked_at for view in views if view.checked_at]
    last = max(checked) if checked else None
    stale = last is None or timezone.now() - last > stale_after()
    notes = []
    if not queueing.broker_available():
        notes.append("Redis is not answering.")
        for view in views:
            if view.name in REDIS_MODULES:
                _derive(view, DOWN, "Redis is not answering: no job starts, live updates stop, the cache is empty.")
    elif stale:
        notes.append(_stale_note(views, last))
    return Overview(status=_overall(views), modules=views, checked_at=last, stale=stale, note=" ".join(notes))


def health_from_answers(answers: list[ModuleAnswer]) -> Overview:
    """The overview of a round just run here (the `health` command), with the stored trends and counts."""
    try:
        rows = {row.module: row for row in ModuleHealth.objects.all()}
    except DatabaseError:
        rows = {}  # the database module says why; the checks' answers still stand
    now = timezone.now()
    views = []
    for answer in answers:
        view = _view(module_get(answer.module), rows.get(answer.module))
        view.status, view.message, view.checked_at = answer.status, answer.message, now
        view.response_time_ms = round(answer.ms, 1)
        view.checks = [check.as_json() for check in answer.checks]
        views.append(view)
    return Overview(status=_overall(views), modules=views, checked_at=now, stale=False)


def module_detail(name: str) -> dict[str, Any]:
    """One module: its overview, the answers of its checks, its changes of status and its recent errors."""
    module = module_get(name)
    view = health_overview().module(name)
    events = list(HealthEvent.objects.filter(module=name).order_by("-at")[:20])
    return {
        "view": view,
        "events": events,
        "failed_jobs": module_failed_jobs(module),
    }


@dataclass
class Outages:
    """When the health rounds' history begins (None: not before the range ends) and the spans in which
    some critical module was down, within a range."""

    known_from: datetime | None
    spans: list[tuple[datetime, datetime]]

    def uptime(self, start: datetime, end: datetime) -> float | None:
        """The share of [start, end), in %, in which no critical module was down; None when no round had run."""
        begin = max(start, self.known_from) if self.known_from else end
        if begin >= end:
            return None
        down = sum(max(0.0, (min(b, end) - max(a, begin)).total_seconds()) for a, b in self.spans)
        return round(100 * (1 - down / (end - begin).total_seconds()), 3)


def outages(*, since: datetime, until: datetime) -> Outages:
    """When some critical module was down between two times, from the changes of status the rounds stored.

    A time when rounds did not run counts as what the last round found: that is all the history holds.
    """
    state = {
        module: HealthEvent.objects.filter(module=module, at__lt=since).order_by("-at").values_list("status", flat=True).first()
        for module in CRITICAL
    }
    changes = HealthEvent.objects.filter(module__in=CRITICAL, at__gte=since, at__lt=until).order_by("at", "id")
    known_from = since if any(state.values()) else None
    spans: list[tuple[datetime, datetime]] = []
    down_since = since if DOWN in state.values() else None
    for module, status, at in changes.values_list("module", "status", "at"):
        known_from = known_from or at
        state[module] = status
        if down_since is None and status == DOWN:
            down_since = at
        elif down_since is not None and DOWN not in state.values():
            spans.append((down_since, at))
            down_since = None
    if down_since is not None:
        spans.append((down_since, until))
    return Outages(known_from=known_from, spans=spans)


def module_failed_jobs(module: Module, *, limit: int = 10) -> list[Job]:
    """The latest failed jobs of the module's job types (for modules that run jobs)."""
    failed: list[Job] = []
    for job_type in registry.all_types():
        if job_type.module == module.name:
            failed.extend(Job.objects.filter(type=job_type.name, state=JobState.FAILED).order_by("-created_at")[:limit])
    return sorted(failed, key=lambda job: job.created_at, reverse=True)[:limit]


def _view(module: Module, row: ModuleHealth | None) -> ModuleView:
    if row is None:
        return ModuleView(module=module, message="Not checked yet: the first health round has not run.")
    return ModuleView(
        module=module,
        status=row.status,
        message=row.message,
        since=row.since,
        response_time_ms=row.response_time_ms,
        error_count=row.error_count,
        trend=row.trend,
        anomalies=row.anomalies,
        checks=row.checks,
        checked_at=row.checked_at,
    )


def _derive(view: ModuleView, status: str, message: str) -> None:
    if view.status != status:
        view.since = None  # since some time after the last round; the last round cannot say when
    view.status, view.message, view.derived = status, message, True


def _stale_note(views: list[ModuleView], last: datetime | None) -> str:
    when = f"since {timezone.localtime(last):%H:%M:%S}" if last else "yet"
    if not worker_selectors.worker_hostnames_live():
        view = next(v for v in views if v.name == "workers")
        _derive(view, DOWN, f"No worker is running, so no health check has run {when}. Start one with `celery -A chlops worker`.")
        return f"Health checks have not run {when}: no worker is running."
    view = next(v for v in views if v.name == "scheduler")
    _derive(view, DOWN, f"No health round has run {when} though workers are online: is celery beat running?")
    return f"Health checks have not run {when}: celery beat is not starting them."


def _overall(views: list[ModuleView]) -> str:
    return overall({view.name: view.status for view in views}, CRITICAL)
