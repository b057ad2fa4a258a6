"""Job engine: cancel latency of `canary` and throughput of `canary seconds=0`, against bare Celery.

    python bench/job_engine.py [--runs 20] [--jobs 200]

Baseline, same run, same worker: the `ping` task (a bare Celery round trip through the broker and
the result backend), so the table shows what the engine adds on top of Celery itself.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import machine, migrate, percentile, setup_django, start_redis, start_worker, table  # noqa: E402


def wait(predicate, timeout: float = 60.0, interval: float = 0.005):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(interval)
    return value


def cancel_latency(runs: int) -> list[float]:
    from operations import services
    from operations.models import Job, JobState

    latencies = []
    for _ in range(runs):
        job = services.job_start(type="canary", params={"seconds": 30}, source="system")
        wait(lambda job=job: Job.objects.filter(pk=job.pk, state=JobState.RUNNING, done__gt=0).exists())
        started = time.perf_counter()
        services.job_cancel(job=job, source="system")
        wait(lambda job=job: Job.objects.filter(pk=job.pk, state=JobState.CANCELLED).exists())
        latencies.append(time.perf_counter() - started)
    return latencies


def ping_round_trips(runs: int) -> list[float]:
    from operations.tasks import ping

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        ping.delay().get(timeout=30, interval=0.005)
        times.append(time.perf_counter() - started)
    return times


def canary_throughput(count: int) -> float:
    from operations import services
    from operations.models import Job, JobState

    started = time.perf_counter()
    last = None
    for _ in range(count):
        # One lock key (`canary`): each start waits for the previous job to finish, as cron would.
        while True:
            try:
                last = services.job_start(type="canary", params={"seconds": 0}, source="system")
                break
            except services.LockHeld:
                time.sleep(0.002)
    wait(lambda: Job.objects.filter(pk=last.pk, state=JobState.SUCCEEDED).exists())
    return count / (time.perf_counter() - started) * 60


def ping_throughput(count: int) -> float:
    from operations.tasks import ping

    started = time.perf_counter()
    results = [ping.delay() for _ in range(count)]
    for result in results:
        result.get(timeout=60, interval=0.005)
    return count / (time.perf_counter() - started) * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()
    setup_django()
    redis = start_redis()
    migrate()
    worker = start_worker(concurrency=1)
    try:
        cancels = cancel_latency(args.runs)
        pings = ping_round_trips(args.runs)
        canary_rate = canary_throughput(args.jobs)
        ping_rate = ping_throughput(args.jobs)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
        if redis:
            redis.terminate()
    from django.db import connection

    print(f"Job engine — {machine()}; database {connection.vendor}; one worker, concurrency 1\n")
    ms = lambda v: f"{v * 1000:.0f} ms"  # noqa: E731
    print(table(
        ["measure", "p50", "p95", "target", "baseline: bare Celery round trip p50 / p95"],
        [["cancel latency of a running canary", ms(percentile(cancels, 50)), ms(percentile(cancels, 95)), "p95 ≤ 1 s",
          f"{ms(percentile(pings, 50))} / {ms(percentile(pings, 95))}"]],
    ))
    print()
    serial_rate = 60 / percentile(pings, 50)
    print(table(
        ["measure", "per minute", "baseline: bare Celery, one at a time", "baseline: bare Celery, pipelined"],
        [[f"canary seconds=0, {args.jobs} jobs under one lock key", f"{canary_rate:,.0f}",
          f"{serial_rate:,.0f} ({canary_rate / serial_rate:.2f}×)", f"{ping_rate:,.0f} ({canary_rate / ping_rate:.2f}×)"]],
    ))


if __name__ == "__main__":
    main()
