"""A health round: check every module, keep each answer and each change of status, push what changed.

Storage: the latest answer per module is one row (ModuleHealth, 13 rows), and every change of
status is a HealthEvent row: the database is the truth that outlives Redis being down, so a page
can still say what every module last was while Redis is away. Response times and failed checks go
to the metrics store as the `check` series, which gives their charts, trends and error counts.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import redis
from django.db import transaction
from django.utils import timezone

from monitoring.collectors import queues
from monitoring.health import insights, runner
from monitoring.health.runner import DOWN, ModuleAnswer
from monitoring.metrics import RECORDER, series
from monitoring.models import HealthEvent, ModuleHealth
from operations import broadcasts, observers

logger = logging.getLogger(__name__)

OVERVIEW_CARD = "health-overview"
INFRA_CARDS = ("database-card", "cache-card", "worker-status-card")  # monitoring.cards registers them
HISTORY_KEEP = timedelta(days=30)


def module_card(module: str) -> str:
    return f"module-{module}"


def health_round() -> list[ModuleAnswer]:
    """Check every module now, store the answers and status changes, and push the cards that changed."""
    started = time.perf_counter()
    answers = runner.modules_check()
    queues.queue_length_sample()  # the Workers card's chart: one sample a round
    for answer in answers:
        RECORDER.observe(series.CHECK, answer.module, (answer.status,), answer.ms / 1000, error=answer.status == DOWN)
    try:
        minutes = insights.day_of_minutes()
    except redis.RedisError:
        minutes = None  # keep the last error counts, trends and anomalies: better than none
        logger.warning("module trends and anomalies not updated: Redis is not answering")
    changed = health_store(answers, minutes=minutes)
    for module in changed:
        broadcasts.card_changed(module_card(module))
    broadcasts.card_changed(OVERVIEW_CARD)  # it shows the time of the last round
    for card in INFRA_CARDS:  # their numbers move with every query and request: pushed each round
        broadcasts.card_changed(card)
    # Whoever recomputes after a round (the settings diagnostics) observes it; observing never fails the round.
    observers.observe("health", key="round", outcome="ok", seconds=time.perf_counter() - started)
    return answers


def health_store(answers: list[ModuleAnswer], *, minutes: list | None) -> list[str]:
    """Write each module's answer and any change of its status; return the modules whose card changed."""
    now = timezone.now()
    changed = []
    with transaction.atomic():
        rows = {row.module: row for row in ModuleHealth.objects.select_for_update()}
        for answer in answers:
            row = rows.get(answer.module)
            before = visible(row) if row is not None else None
            if row is None or row.status != answer.status:
                HealthEvent.objects.create(
                    module=answer.module, status=answer.status, previous=row.status if row else "", message=answer.message, at=now
                )
            row = row or ModuleHealth(module=answer.module, since=now)
            if row.status != answer.status:
                row.since = now
            row.status, row.message, row.checked_at = answer.status, answer.message, now
            row.response_time_ms = round(answer.ms, 1)
            row.checks = [check.as_json() for check in answer.checks]
            if minutes is not None:
                row.error_count = insights.error_count(answer.module, minutes)
                row.trend = insights.trend(answer.module, minutes)
                row.anomalies = insights.module_anomalies(answer.module, minutes)
            row.save()
            if visible(row) != before:
                changed.append(answer.module)
        HealthEvent.objects.filter(at__lt=now - HISTORY_KEEP).delete()
    return changed


def visible(row: ModuleHealth) -> tuple:
    """What a module's card shows: a round that changes none of it pushes nothing."""
    trend = (row.trend or {}).get("direction"), round(100 * (row.trend or {}).get("change", 0))
    return (row.status, row.message, round(row.response_time_ms), row.error_count, trend, [a["sentence"] for a in row.anomalies])
