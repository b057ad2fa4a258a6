"""Workers: heartbeat cost, kill -9 to offline on the card, and pause round trip against `inspect ping`.

    python bench/workers.py [--seconds 60 | --long] [--kills 10] [--reps 10]

- Heartbeat cost: CPU seconds of one worker (parent and pool) with heartbeats on and off
  (CHLOPS_WORKER_HEARTBEAT_SECONDS=0), idle and busy (a steady stream of `ping` tasks), over
  `--seconds` each (`--long`: 10 minutes each).
- Offline: kill -9 of a worker, at a random point between two of its beats, to `offline` on the
  workers card (its context, read every `--check-every` s, default 5 as the beat check runs, on a
  clock of its own: the first read comes at a random point after the kill), p50/p95/max over
  `--kills` runs.
- Pause round trip: pause + resume of every worker, with 1 and 4 workers, against
  `celery inspect ping` with its default timeout (1 s), in the same run.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import BASE_DIR, machine, migrate, percentile, setup_django, start_redis, table  # noqa: E402


def spawn(name: str, *, env: dict[str, str] | None = None, concurrency: int = 1) -> subprocess.Popen:
    log = Path(os.environ["CHLOPS_DATA_DIR"]) / f"{name}.log"
    args = [sys.executable, "-m", "celery", "-A", "chlops", "worker", "-n", f"{name}@%h", "-Q", "jobs,embed,control",
            "-c", str(concurrency), "--without-gossip", "--without-mingle", "-l", "WARNING"]  # fmt: skip
    process = subprocess.Popen(
        args, cwd=BASE_DIR, env={**os.environ, **(env or {})}, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    from chlops.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(destination=[f"{name}@{hostname()}"], timeout=0.5):
            return process
    raise RuntimeError(f"worker {name} did not start; see {log}")


def hostname() -> str:
    import socket

    return socket.gethostname()


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
    process.wait(60)


def cpu_seconds(pid: int) -> float:
    me = psutil.Process(pid)
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


def heartbeat_cost(seconds: float) -> list[list[object]]:
    from operations.tasks import ping

    rows = []
    for busy in (False, True):
        for on in (True, False):
            name = f"cost{int(on)}{int(busy)}"
            process = spawn(name, env={"CHLOPS_WORKER_HEARTBEAT_SECONDS": "5" if on else "0"})
            time.sleep(2)  # let start-up settle before measuring
            before, started, sent = cpu_seconds(process.pid), time.monotonic(), 0
            while (elapsed := time.monotonic() - started) < seconds:
                if busy:
                    ping.apply_async(queue="jobs", ignore_result=True)
                    sent += 1
                    time.sleep(max(0.0, sent / 20 - (time.monotonic() - started)))  # 20 tasks/s
                else:
                    time.sleep(0.5)
            used = cpu_seconds(process.pid) - before
            stop(process)
            rows.append(
                [
                    "busy (20 tasks/s)" if busy else "idle",
                    "on" if on else "off",
                    f"{used:.2f}",
                    f"{100 * used / elapsed:.2f}%",
                ]
            )
    return rows


def offline_latency(kills: int, check_every: float) -> list[float]:
    from django.conf import settings

    from monitoring import cards

    beat = settings.CHLOPS_WORKER_HEARTBEAT_SECONDS

    def state(host: str) -> str | None:
        rows = cards.workers_card_context()["workers"]
        return next((row.state for row in rows if row.hostname == host), None)

    times = []
    for run in range(kills):
        name = f"victim{run}"
        host = f"{name}@{hostname()}"
        process = spawn(name)
        while state(host) != "online":
            time.sleep(0.2)
        time.sleep(random.uniform(0, beat))  # kill at any point between two beats, the worst case included
        stop(process, signal.SIGKILL)
        killed = time.monotonic()
        time.sleep(random.uniform(0, check_every))  # the beat's offline check keeps its own time, not the kill's
        while state(host) != "offline":
            time.sleep(check_every)
        times.append(time.monotonic() - killed)
    return times


def pause_round_trips(workers: int, reps: int) -> tuple[list[float], list[float]]:
    from chlops.celery import app
    from monitoring import roster
    from operations import workers as control

    processes = [spawn(f"p{workers}x{i}") for i in range(workers)]
    try:
        while len([h for h in roster.live() if h.startswith(f"p{workers}x")]) < workers:
            time.sleep(0.2)
        pause, ping = [], []
        for _ in range(reps):
            started = time.perf_counter()
            answer = control.workers_pause(source="system")
            control.workers_resume(source="system")
            pause.append(time.perf_counter() - started)
            assert not answer.missing, answer.missing
            started = time.perf_counter()
            app.control.inspect().ping()
            ping.append(time.perf_counter() - started)
    finally:
        for process in processes:
            stop(process)
    return pause, ping


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--long", action="store_true", help="10 minutes per heartbeat-cost phase")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--check-every", type=float, default=5.0, help="seconds between offline checks (beat: 5)")
    parser.add_argument("--skip", default="", help="comma-separated: cost,offline,pause")
    args = parser.parse_args()
    setup_django()
    redis = start_redis()
    migrate()
    skip = set(args.skip.split(","))
    try:
        print(f"Machine: {machine()}\n")
        if "cost" not in skip:
            seconds = 600 if args.long else args.seconds
            print(f"Heartbeat cost: worker CPU (parent + pool, -c 1) over {seconds:.0f} s per row\n")
            print(table(["load", "heartbeats", "CPU s", "CPU %"], heartbeat_cost(seconds)) + "\n")
        if "offline" not in skip:
            from django.conf import settings

            times = offline_latency(args.kills, args.check_every)
            print(
                f"kill -9 to offline on the card (threshold {settings.CHLOPS_WORKER_OFFLINE_SECONDS} s, "
                f"checked every {args.check_every:g} s), {len(times)} runs\n"
            )
            rows = [["p50", f"{percentile(times, 50):.1f} s"], ["p95", f"{percentile(times, 95):.1f} s"],
                    ["max", f"{max(times):.1f} s"]]  # fmt: skip
            print(table(["", "kill → offline"], rows) + "\n")
        if "pause" not in skip:
            rows = []
            for n in (1, 4):
                pause, ping = pause_round_trips(n, args.reps)
                rows.append([n, f"{1000 * percentile(pause, 50):.0f} ms", f"{1000 * percentile(pause, 95):.0f} ms",
                             f"{1000 * percentile(ping, 50):.0f} ms"])  # fmt: skip
            print(f"Pause + resume of all workers vs `celery inspect ping` (default timeout), {args.reps} reps\n")
            print(table(["workers", "pause+resume p50", "p95", "inspect ping p50"], rows))
    finally:
        if redis:
            redis.terminate()


if __name__ == "__main__":
    main()
