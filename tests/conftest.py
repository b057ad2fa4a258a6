"""Shared fixtures: a real Redis, real Celery workers and a real daphne, all on the test database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection

from chlops.redis_server import redis_server_start
from chlops.stack import daphne_command
from operations.groups import groups_ensure

BASE_DIR = Path(settings.BASE_DIR)


def wait_for(predicate: Callable[[], object], *, timeout: float = 30.0, interval: float = 0.05, message: str = "") -> object:
    """Poll until predicate() is truthy; fail the test with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for: {message or predicate}")
        time.sleep(interval)


async def receive_containing(
    socket, wanted: str | Callable[[str], bool], *, timeout: float = 10, attempts: int = 20
) -> str:
    """The next websocket message that carries `wanted` (text, or a test of the message), passing over the
    pushes of other cards: the workers of other tests push theirs too."""
    test = wanted if callable(wanted) else lambda message: wanted in message
    for _ in range(attempts):
        message = await socket.receive_from(timeout=timeout)
        if test(message):
            return message
    raise AssertionError(f"no message carried {wanted!r}")


@pytest.fixture(scope="session", autouse=True)
def redis_server() -> Iterator[None]:
    """Start the embedded Redis unless REDIS_URL names one; flush the test keys either way."""
    process = None
    if settings.REDIS_EMBEDDED:
        process = redis_server_start(socket=settings.REDIS_SOCKET, data_dir=settings.DATA_DIR)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    yield
    if process:
        process.terminate()
        process.wait(10)


def database_url() -> str:
    """The test database, as a DATABASE_URL for the processes the tests start."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture(scope="session")
def stack_env(django_db_setup, django_db_blocker) -> dict[str, str]:
    with django_db_blocker.unblock():
        url = database_url()
    env = dict(os.environ)
    env.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "chlops.settings", "PYTHONUNBUFFERED": "1"})
    return env


class Process:
    """A child process of the test run, in its own process group so it can be killed whole."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.popen = subprocess.Popen(
            args, cwd=BASE_DIR, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass
        self.popen.wait(30)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.kill(signal.SIGTERM)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="session")
def spawn_worker(stack_env, tmp_path_factory) -> Iterator[Callable[..., Process]]:
    """Start a real Celery worker on the test database; it is stopped at the end of the session."""
    started: list[Process] = []

    def spawn(name: str = "test", *, queues: str = "jobs,embed,control", concurrency: int = 2, env: dict | None = None) -> Process:
        log = tmp_path_factory.mktemp("worker") / f"{name}.log"
        args = [
            sys.executable, "-m", "celery", "-A", "chlops", "worker",
            "-n", f"{name}@%h", "-Q", queues, "-c", str(concurrency), "--without-gossip", "--without-mingle", "-l", "INFO",
        ]
        # Gates on: a test can park a job at a checkpoint and act on it mid-run (tests/gates.py).
        process = Process(args, {**stack_env, "CHLOPS_TEST_GATES": "1", **(env or {})}, log)
        started.append(process)
        wait_for(lambda: _worker_ready(process), timeout=60, interval=0.2, message=f"worker {name} to start")
        return process

    yield spawn
    for process in started:
        process.stop()


@contextmanager
def only_worker(name: str, queues: tuple[str, ...] = ("jobs", "embed")) -> Iterator[None]:
    """Let only worker `name` take work from `queues`: the others stop consuming them meanwhile."""
    from chlops.celery import app

    others = [node for reply in app.control.ping(timeout=1) for node in reply if not node.startswith(f"{name}@")]
    for queue in queues:
        if others:
            app.control.cancel_consumer(queue, destination=others, reply=True, timeout=5)
    try:
        yield
    finally:
        for queue in queues:
            if others:
                app.control.add_consumer(queue, destination=others, reply=True, timeout=5)


def _worker_ready(process: Process) -> bool:
    if process.popen.poll() is not None:
        pytest.fail(f"worker exited at start:\n{process.output()}")
    return " ready." in process.output()


@pytest.fixture(scope="session")
def worker(spawn_worker) -> Process:
    """The shared worker most integration tests use."""
    return spawn_worker("test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def web_server(stack_env, tmp_path_factory) -> Iterator[str]:
    """daphne serving the real ASGI application (HTTP and websockets) on the test database."""
    port = free_port()
    log = tmp_path_factory.mktemp("daphne") / "daphne.log"
    process = Process(daphne_command("127.0.0.1", port), stack_env, log)  # as runstack starts it

    def up() -> bool:
        if process.popen.poll() is not None:
            pytest.fail(f"daphne exited at start:\n{process.output()}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_for(up, timeout=30, interval=0.1, message="daphne to listen")
    yield f"http://127.0.0.1:{port}"
    process.stop()


PASSWORD = "correct horse battery staple"


def make_user(username: str, *, groups: tuple[str, ...] = (), staff: bool = True, superuser: bool = False) -> User:
    if groups:
        groups_ensure()  # transactional tests flush the groups the migration made
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD, is_staff=staff, is_superuser=superuser)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


@pytest.fixture
def operator(db) -> User:
    return make_user("olivia", groups=("Operators",))


@pytest.fixture
def auditor(db) -> User:
    return make_user("arthur", groups=("Auditors",))


@pytest.fixture
def superuser(db) -> User:
    return make_user("root", superuser=True)


@pytest.fixture
def plain_staff(db) -> User:
    return make_user("stan")
