from __future__ import annotations

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from operations import broadcasts, cards, fragments, job_types, registry

        registry.register(job_types.CANARY)
        registry.register(job_types.DRAIN)
        registry.operation_register(job_types.CANARY_OPERATION)
        broadcasts.renderer_set(fragments.change_render)
        cards.page_register(cards.Page(name="operations", title="Operations", url_name="ops:dashboard", order=10))
