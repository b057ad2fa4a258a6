"""The evaluator's lease: one holder at a time; when the holder is killed, another takes over within its TTL."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest

from alerts.lease import Lease
from chlops.settings import BASE_DIR
from tests.conftest import wait_for

HOLDER = """
import sys, time, django
django.setup()
from alerts.lease import Lease
lease = Lease(sys.argv[1], ttl=float(sys.argv[2]), owner="child")
while not lease.hold():
    time.sleep(0.05)
print("held", flush=True)
while True:
    lease.hold()
    time.sleep(0.1)
"""


class LeaseTests:
    def test_one_holder_at_a_time_and_the_holder_renews(self):
        key = f"test:lease:{uuid.uuid4().hex}"
        first, second = Lease(key, ttl=5, owner="a"), Lease(key, ttl=5, owner="b")
        assert first.hold() and first.hold()
        assert not second.hold()
        first.release()
        assert second.hold() and second.holder() == "b"

    def test_a_killed_holder_is_taken_over_within_its_ttl(self, stack_env):
        key = f"test:lease:{uuid.uuid4().hex}"
        child = subprocess.Popen(
            [sys.executable, "-c", HOLDER, key, "1.0"], cwd=BASE_DIR, env=stack_env, stdout=subprocess.PIPE, text=True
        )
        try:
            assert child.stdout.readline().strip() == "held"  # the event: the child holds it
            taker = Lease(key, ttl=1.0, owner="taker")
            assert not taker.hold()
            child.kill()  # SIGKILL: no release, the lease must lapse by itself
            child.wait(10)
            killed = time.monotonic()
            wait_for(taker.hold, timeout=5, interval=0.05, message="another process to take the lease over")
            assert time.monotonic() - killed <= 1.5
            assert taker.holder() == "taker"
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(10)


pytestmark = pytest.mark.django_db
