"""Wait for real workers to show up in (or drop out of) the heartbeats."""

from __future__ import annotations

import socket

from operations import workers
from tests.conftest import wait_for


def hostname(name: str) -> str:
    return f"{name}@{socket.gethostname()}"


def worker_row(name: str) -> dict | None:
    return next((row for row in workers.roster().listing() if row["hostname"] == hostname(name)), None)


def wait_for_state(name: str, state: str, *, timeout: float = 20) -> dict:
    return wait_for(
        lambda: (row := worker_row(name)) and row["state"] == state and row,
        timeout=timeout,
        interval=0.2,
        message=f"worker {name} to be {state}",
    )
