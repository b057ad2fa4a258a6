"""An alert in one sentence: "Error rate of web is 7.4 %, above 5 % for 1 minute"."""

from __future__ import annotations

from datetime import datetime

from alerts.models import AlertRule, Comparison, Metric
from alerts.readings import READERS, STATUS_WORDS


def number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.1f}"


def span(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    return f"{hours} hour{'s' if hours != 1 else ''}"


def alert_sentence(rule: AlertRule, module: str, value: float | None, *, since: datetime, now: datetime) -> str:
    lasted = (now - since).total_seconds()
    tail = f" for {span(lasted)}" if lasted >= 1 else ""
    reader = READERS[rule.metric]
    if reader.status:
        subject = "Workers are" if rule.metric == Metric.WORKER_HEALTH else f"Module {module} is"
        word = STATUS_WORDS.get(value, "unknown") if value is not None else "unknown"
        return f"{subject} {word}{tail}"
    label = Metric(rule.metric).label
    subject = f"{label} of {module}" if module else label
    side = Comparison(rule.comparison).label
    shown = "no data" if value is None else f"{number(value)}{reader.unit}"
    return f"{subject} is {shown}, {side} {number(rule.threshold)}{reader.unit}{tail}"
