from __future__ import annotations

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        from celery import signals

        from alerts import broadcasts, cards, runner, windows
        from operations import cards as card_registry
        from operations import observers

        card_registry.page_register(cards.PAGE)
        card_registry.register(cards.FIRING)
        # A banner on every ops page registered so far (this app is the last in INSTALLED_APPS).
        pages = [page.name for page in card_registry.pages()]
        for page in pages:
            card_registry.register(cards.banner(page))
        broadcasts.pages_set(pages)
        observers.job_observer_register(windows.job_transitioned)
        signals.worker_ready.connect(runner.on_worker_ready, weak=False)
        signals.worker_shutdown.connect(runner.on_worker_shutdown, weak=False)
