from __future__ import annotations

from django.apps import AppConfig


class IndexesConfig(AppConfig):
    name = "indexes"
    verbose_name = "Corpus and indexes"

    def ready(self) -> None:
        from indexes import job_types
        from indexes.dashboard.cards import CARDS
        from operations import cards, registry

        for job_type in job_types.ALL:
            registry.register(job_type)
        for card in CARDS:
            cards.register(card)
