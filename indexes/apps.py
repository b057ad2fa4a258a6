from __future__ import annotations

from django.apps import AppConfig


class IndexesConfig(AppConfig):
    name = "indexes"
    verbose_name = "Corpus and indexes"

    def ready(self) -> None:
        from indexes import job_types
        from indexes.dashboard.cards import CARDS
        from indexes.dashboard.operations import OPERATIONS
        from indexes.peers import cards as settings_cards
        from indexes.selectors import entries_pending_count
        from operations import cards, registry

        for job_type in job_types.ALL:
            registry.register(job_type)
        for operation in OPERATIONS:
            registry.operation_register(operation)
        registry.backlog_register("entries_pending", entries_pending_count)
        for card in CARDS:
            cards.register(card)
        cards.page_register(settings_cards.PAGE)
        for card in settings_cards.CARDS:
            cards.register(card)
