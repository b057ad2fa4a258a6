"""The pieces of `runstack`: child processes with prefixed logs, and the first-run admin."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
from typing import TextIO

from django.conf import settings
from django.core.management.base import CommandError

from chlops.redis_server import redis_server_start

STOP_TIMEOUT = 15  # seconds a child may take to stop before it is killed


def parse_bind(bind: str) -> tuple[str, int]:
    host, sep, port = bind.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"--bind must look like 127.0.0.1:8000, not {bind!r}.", returncode=2)
    return host, int(port)


# Seconds a websocket may take from its request to its acceptance. Daphne's default (5 s) cut off the
# last of 500 dashboards reconnecting at once (after a restart, say), which then all tried again.
WEBSOCKET_CONNECT_TIMEOUT = 30


def daphne_command(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "daphne", "-b", host, "-p", str(port),
        "--websocket_connect_timeout", str(WEBSOCKET_CONNECT_TIMEOUT), "chlops.asgi:application",
    ]  # fmt: skip


def worker_command(concurrency: int) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "chlops", "worker", "-n", "main@%h",
        "-Q", "jobs,embed,control", "-c", str(concurrency), "-l", "INFO",
    ]


def beat_command() -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "chlops", "beat", "-l", "INFO"]


def admin_ensure() -> str:
    """Create the `admin` superuser on first run; say how to log in."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    if User.objects.filter(username="admin").exists():
        return "Log in as admin (its password was set on first run)."
    password = settings.CHLOPS_ADMIN_PASSWORD
    if password:
        User.objects.create_superuser("admin", "", password)
        return "Created the admin user with the password from CHLOPS_ADMIN_PASSWORD."
    password = secrets.token_urlsafe(16)
    User.objects.create_superuser("admin", "", password)
    path = settings.DATA_DIR / "admin-password"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return f"Created the admin user. Password (shown once, also in {path}): {password}"


class Supervisor:
    """Start children in their own process groups, prefix their output, stop them all."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.children: dict[str, subprocess.Popen] = {}
        self.lock = threading.Lock()

    def start_redis(self) -> None:
        process = redis_server_start(socket=settings.REDIS_SOCKET, data_dir=settings.DATA_DIR)
        self._track("redis", process)
        self._write("redis", f"embedded Redis on {settings.REDIS_SOCKET}")

    def start(self, name: str, args: list[str]) -> None:
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._track(name, process)

    def _track(self, name: str, process: subprocess.Popen) -> None:
        self.children[name] = process
        if process.stdout:
            threading.Thread(target=self._pump, args=(name, process), daemon=True).start()

    def _pump(self, name: str, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self._write(name, line.rstrip("\n"))

    def _write(self, name: str, line: str) -> None:
        with self.lock:
            self.out.write(f"{name:>6} | {line}")
            self.out.flush()

    def first_dead(self) -> str | None:
        return next((name for name, p in self.children.items() if p.poll() is not None), None)

    def stop_all(self) -> None:
        # Stop in reverse order of start, so Redis goes last.
        for name, process in reversed(list(self.children.items())):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM) if name != "redis" else process.terminate()
                except ProcessLookupError:
                    continue
        for name, process in reversed(list(self.children.items())):
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._write(name, "did not stop in time; killing it")
                os.killpg(process.pid, signal.SIGKILL) if name != "redis" else process.kill()
                process.wait()
        self.children.clear()
