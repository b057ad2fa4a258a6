from __future__ import annotations

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from celery import signals
        from django.db.backends.signals import connection_created

        from monitoring import cards, heartbeat, roster
        from monitoring.collectors import database, work
        from monitoring.health import beat
        from operations import cards as card_registry
        from operations import observers, workers

        card_registry.register(cards.WORKERS)
        card_registry.register(cards.QUEUES)
        card_registry.page_register(cards.PAGE)
        card_registry.register(cards.OVERVIEW)
        for card in (*cards.MODULE_CARDS, *cards.INFRA_CARDS):
            card_registry.register(card)
        connection_created.connect(database.connection_instrument, weak=False)
        workers.roster_register(roster.ROSTER)
        observers.observer_register(work.work_observed)
        signals.worker_ready.connect(heartbeat.on_worker_ready, weak=False)
        signals.worker_shutdown.connect(heartbeat.on_worker_shutdown, weak=False)
        signals.task_postrun.connect(heartbeat.on_task_postrun, weak=False)
        signals.before_task_publish.connect(workers.stamp_sent_at, weak=False)
        signals.beat_init.connect(beat.on_beat_init, weak=False)
        signals.before_task_publish.connect(beat.on_task_published, weak=False)
