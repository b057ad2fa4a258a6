from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig as BaseAdminConfig


class ChlopsConfig(AppConfig):
    default = True
    name = "chlops"
    verbose_name = "CHL Ops"


class ChlopsAdminConfig(BaseAdminConfig):
    default = False
    default_site = "chlops.admin.ChlopsAdminSite"
