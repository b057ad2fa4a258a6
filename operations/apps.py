from __future__ import annotations

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from operations import broadcasts, cards, job_types, registry, tiles

        registry.register(job_types.CANARY)
        registry.register(job_types.DRAIN)
        registry.operation_register(job_types.CANARY_OPERATION)
        broadcasts.renderer_set(tiles.change_render)  # fragments.change_render, and the cards that follow jobs
        cards.page_register(cards.Page(name="operations", title="Operations", url_name="ops:dashboard", order=10))
