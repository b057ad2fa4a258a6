from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit"

    def ready(self) -> None:
        from audit import signals  # noqa: F401  (connects login/logout/admin-change receivers)
        from audit.triggers import triggers_ensure

        post_migrate.connect(triggers_ensure, sender=self, dispatch_uid="audit.triggers_ensure")
