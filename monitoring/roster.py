"""What monitoring tells operations about workers (registered as operations.workers.Roster).

Reads only: "offline" is derived from each row's last beat; the beat task alone changes state.
"""

from __future__ import annotations

from typing import Any

from chlops.exceptions import ServiceUnavailable
from monitoring import selectors, services
from operations import workers


def live() -> list[str]:
    return selectors.worker_hostnames_live()


def listing() -> list[dict[str, Any]]:
    return [selectors.worker_json(row) for row in selectors.worker_list()]


def queues() -> dict[str, Any]:
    overview = selectors.queues_overview()
    if error := overview.pop("broker_error"):
        raise ServiceUnavailable(error)
    return overview


ROSTER = workers.Roster(live=live, listing=listing, queues=queues, changed=services.workers_changed)
