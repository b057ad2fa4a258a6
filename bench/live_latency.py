"""Live latency: from a job's progress write to each connected dashboard receiving the fragment.

    python bench/live_latency.py [--rounds 100] [--clients 1,50]

A real daphne (subprocess) serves /ws/ops/; N websocket clients log in as an operator (session
cookie) and wait. Each round, this process calls RunContext.progress() on a running job: the
throttled DB write, then broadcasts.job_changed -> render the row, detail and latest-runs partials
once -> Redis group_send -> each consumer forwards. The clock starts before progress() and stops
when a client has the message. Baseline, same run: a bare publish of a tiny fragment (no DB write,
no rendering), and the refresh interval of the polling dashboards operators use today.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import BASE_DIR, machine, migrate, percentile, setup_django, start_redis, table  # noqa: E402

# Refresh intervals of the dashboards operators use today (seconds).
POLLING_DASHBOARDS = [("Flower", 1.0), ("Oban Web", 1.0), ("Hangfire", 2.0), ("Sidekiq", 5.0)]
ROUND_GAP = 0.25  # seconds; above the runner's progress throttle, so every progress() call writes


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_daphne(port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "chlops.asgi:application"],
        cwd=BASE_DIR, env=dict(os.environ), stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.1)
    raise RuntimeError(f"daphne did not start; see {log}")


def operator_cookie() -> str:
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from operations.groups import groups_ensure

    groups_ensure()
    user, _ = User.objects.get_or_create(username="bench-operator", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name="Operators"))
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


class Dashboards:
    """N websocket clients, each putting (arrival time, message) on its own queue."""

    def __init__(self, url: str, origin: str, cookie: str, count: int) -> None:
        self.url, self.origin, self.cookie, self.count = url, origin, cookie, count
        self.queues: list[asyncio.Queue] = []
        self.sockets: list = []
        self.tasks: list[asyncio.Task] = []

    async def __aenter__(self) -> Dashboards:
        from websockets.asyncio.client import connect

        for _ in range(self.count):
            ws = await connect(self.url, origin=self.origin, additional_headers={"Cookie": self.cookie}, max_size=None)
            queue: asyncio.Queue = asyncio.Queue()
            self.sockets.append(ws)
            self.queues.append(queue)
            self.tasks.append(asyncio.create_task(self._listen(ws, queue)))
        for queue in self.queues:  # everyone's snapshot first
            _, message = await asyncio.wait_for(queue.get(), 30)
            assert 'data-snapshot="true"' in message, message[:200]
        return self

    @staticmethod
    async def _listen(ws, queue: asyncio.Queue) -> None:
        async for message in ws:
            queue.put_nowait((time.perf_counter(), message))

    async def __aexit__(self, *exc) -> None:
        for task in self.tasks:
            task.cancel()
        for ws in self.sockets:
            await ws.close()

    async def next_arrivals(self, marker: str) -> list[float]:
        arrivals = []
        for queue in self.queues:
            while True:
                arrived, message = await asyncio.wait_for(queue.get(), 10)
                if marker in message:
                    arrivals.append(arrived)
                    break
        return arrivals


async def measure(dashboards: Dashboards, rounds: int, act, marker) -> list[float]:
    latencies: list[float] = []
    for i in range(1, rounds + 1):
        await asyncio.sleep(ROUND_GAP)
        started = time.perf_counter()
        await asyncio.to_thread(act, i)
        latencies += [arrived - started for arrived in await dashboards.next_arrivals(marker(i))]
    return latencies


def progress_writer(rounds: int):
    from django.db import close_old_connections

    from operations.models import Job, JobState
    from operations.runner import RunContext

    job = Job.objects.create(type="canary", state=JobState.RUNNING, total=rounds, params={"seconds": 0})
    ctx = RunContext(job)

    def act(i: int) -> None:
        ctx.progress(i, rounds, phase="bench")
        close_old_connections()

    return job, act, lambda i: f'data-job-id="{job.pk}"'


def bare_publisher():
    from operations import broadcasts

    def act(i: int) -> None:
        broadcasts.publish(f'<div id="bench-{i}"></div>')

    return act, lambda i: f'id="bench-{i}"'


def stats(latencies: list[float]) -> list[str]:
    return [
        f"{percentile(latencies, 50) * 1000:.1f} ms",
        f"{percentile(latencies, 95) * 1000:.1f} ms",
        f"{max(latencies) * 1000:.1f} ms",
    ]


async def run(url: str, origin: str, cookie: str, client_counts: list[int], rounds: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for count in client_counts:
        async with Dashboards(url, origin, cookie, count) as dashboards:
            _, act, marker = await asyncio.to_thread(progress_writer, rounds)
            latencies = await measure(dashboards, rounds, act, marker)
            rows.append([f"progress write -> fragment, {count} dashboard(s)", len(latencies), *stats(latencies)])
            act, marker = bare_publisher()
            latencies = await measure(dashboards, rounds, act, marker)
            rows.append(
                [f"baseline: bare publish, no DB/render, {count} dashboard(s)", len(latencies), *stats(latencies)]
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--clients", default="1,50")
    args = parser.parse_args()
    client_counts = [int(c) for c in args.clients.split(",")]

    data_dir = setup_django()
    redis = start_redis()
    daphne = None
    try:
        migrate()
        cookie = operator_cookie()
        port = free_port()
        daphne = start_daphne(port, data_dir / "daphne.log")
        rows = asyncio.run(
            run(
                f"ws://127.0.0.1:{port}/ws/ops/?view=dashboard",
                f"http://127.0.0.1:{port}",
                cookie,
                client_counts,
                args.rounds,
            )
        )
    finally:
        if daphne:
            daphne.terminate()
            daphne.wait(10)
        if redis:
            redis.terminate()
            redis.wait(10)

    print(f"\nLive latency, {args.rounds} rounds per row — {machine()}\n")
    print(table(["path", "samples", "p50", "p95", "max"], rows))
    print("\nToday's dashboards poll instead; a change waits for the next refresh:\n")
    print(
        table(
            ["dashboard", "refresh interval", "mean wait", "p95 wait"],
            [
                [name, f"{t:.0f} s", f"{t / 2 * 1000:.0f} ms", f"{t * 0.95 * 1000:.0f} ms"]
                for name, t in POLLING_DASHBOARDS
            ],
        )
    )


if __name__ == "__main__":
    main()
