"""The hash chain: how a row's hash is computed from its content and the hash before it."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import uuid
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

GENESIS_HASH = "0" * 64
PRUNE_ACTION = "audit.prune"

# The columns a hash covers, in the order selectors read them.
HASHED_FIELDS = (
    "id",
    "created_at",
    "actor_id",
    "actor_username",
    "source",
    "action",
    "target",
    "outcome",
    "details",
    "ip",
    "user_agent",
    "correlation_id",
    "prev_hash",
)


@functools.lru_cache(maxsize=4096)  # verify meets the same few addresses millions of times
def ip_normal(value: str | None) -> str | None:
    """Return the one spelling of an IP address that survives a round trip through any database."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def values_hash(
    *,
    id: int,
    created_at: datetime,
    actor_id: int | None,
    actor_username: str,
    source: str,
    action: str,
    target: str,
    outcome: str,
    details: Any,
    ip: str | None,
    user_agent: str,
    correlation_id: uuid.UUID | str | None,
    prev_hash: str,
) -> str:
    """Hash one row's values together with the hash of the row before it."""
    payload = {
        "id": id,
        "created_at": created_at.isoformat(),
        "actor_id": actor_id,
        "actor_username": actor_username,
        "source": source,
        "action": action,
        "target": target,
        "outcome": outcome,
        "details": details,
        "ip": ip_normal(ip),
        "user_agent": user_agent,
        "correlation_id": str(correlation_id) if correlation_id else None,
        "prev_hash": prev_hash,
    }
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(encoded.encode()).hexdigest()
