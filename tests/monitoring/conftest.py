"""Each monitoring test starts without what an earlier one left in this process or in Redis."""

from __future__ import annotations

import pytest

from chlops.redis_clients import redis_client
from monitoring.health import insights
from monitoring.health.product import AUDIT_BOOKMARK


@pytest.fixture(autouse=True)
def fresh_monitoring():
    redis_client().delete(AUDIT_BOOKMARK)  # the rows it names are gone with the last test's database
    insights.closed_forget()
    yield
