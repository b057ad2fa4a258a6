"""System checks of our own settings, run by `manage.py check` (the deploy ones by `check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


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
