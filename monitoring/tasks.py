"""Celery tasks: interfaces that call one service."""

from __future__ import annotations

from celery import shared_task

from monitoring import services
from monitoring.health import services as health_services


@shared_task(name="monitoring.tasks.mark_offline_workers", ignore_result=True)
def mark_offline_workers() -> list[str]:
    return services.workers_mark_offline()


@shared_task(name="monitoring.tasks.health_round", ignore_result=True)
def health_round() -> None:
    health_services.health_round()
