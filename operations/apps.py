from __future__ import annotations

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from operations import job_types, registry

        registry.register(job_types.CANARY)
        registry.register(job_types.DRAIN)
