"""Recompute the diagnostics when something they read may have changed, and push them if they did."""

from __future__ import annotations

import hashlib
import json
import logging

import redis

from chlops.redis_clients import redis_client
from diagnostics import broadcasts, selectors
from operations.observers import Observation

logger = logging.getLogger(__name__)

PUSHED_KEY = "chlops:diagnostics:pushed"  # the signature of the list last pushed, shared by every process
PUSHED_TTL = 24 * 3600


def diagnostics_refresh() -> bool:
    """Run the checks now; push every page's banner if the list is not the one pushed last. True if pushed."""
    found = selectors.diagnostics_fresh()
    signature = hashlib.sha256(json.dumps([d.as_json() for d in found]).encode()).hexdigest()
    try:
        previous = redis_client().set(PUSHED_KEY, signature, ex=PUSHED_TTL, get=True)
    except redis.RedisError:
        previous = None  # push anyway: a needless push is better than a missed one
    if previous is not None and previous.decode() == signature:
        return False
    broadcasts.diagnostics_changed()
    return True


def work_observed(observation: Observation) -> None:
    """The observer of operations.observers (registered in ready()): refresh after each health round, and
    after a job whose type a check follows (a verify, a reindex…; not the thousands of others)."""
    if observation.kind == "health" or (
        observation.kind == "job" and observation.key in selectors.followed_job_types()
    ):
        diagnostics_refresh()
