from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig as BaseAdminConfig


class ChlopsConfig(AppConfig):
    default = True
    name = "chlops"
    verbose_name = "CHL Ops"

    def ready(self) -> None:
        from django.core import checks

        from chlops.checks import check_production, check_test_gates

        checks.register(check_test_gates, checks.Tags.security, deploy=True)
        checks.register(check_production, checks.Tags.security)


class ChlopsAdminConfig(BaseAdminConfig):
    default = False
    default_site = "chlops.admin.ChlopsAdminSite"
