"""System checks of our own settings, run by `manage.py check` (the deploy ones by `check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from diagnostics.selectors import diagnostics_production

# The production diagnostics (diagnostics.environment) as `manage.py check` names them.
PRODUCTION_IDS = {
    "embedded-redis-in-production": "chlops.W101",
    "sqlite-in-production": "chlops.W102",
    "debug-in-production": "chlops.W103",
    "secret-key-generated": "chlops.W104",
}


def check_test_gates(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Refuse a deployment with test gates on: a test could park its jobs at a checkpoint."""
    if not settings.CHLOPS_TEST_GATES:
        return []
    return [
        checks.Error(
            "CHLOPS_TEST_GATES is on: jobs look for test holds in Redis at every checkpoint and can be parked there.",
            hint="Unset CHLOPS_TEST_GATES; only the test suite's workers need it.",
            id="chlops.E001",
        )
    ]


def check_production(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report the settings diagnostics of a production deployment (CHLOPS_ENV=production), from settings alone.

    Warnings, not errors: they stop no command, and SILENCED_SYSTEM_CHECKS can silence one on purpose.
    """
    return [
        checks.Warning(found.message, hint=found.fix, id=PRODUCTION_IDS.get(found.id, "chlops.W100"))
        for found in diagnostics_production()
    ]
