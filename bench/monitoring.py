"""Monitoring's costs and accuracy (issue 9), each against a baseline measured in the same run.

    python bench/monitoring.py [--seconds 8] [--rounds 3] [--reps 10] [--skip PART,…] [--only PART,…]

1. overhead  — a trivial view (`/ops/`, a redirect through every middleware) served by two daphne
               processes at once, one counting metrics and one with CHLOPS_METRICS=0, under the same
               load in alternating rounds: p50 and p95 per request.
2. flush     — one process recording 1,000 requests a second (spread over modules, methods, status
               classes, lognormal latencies) and flushing once a second: CPU of recording and of the
               flush, as % of one core, and Redis's own CPU; baseline: the same loop with metrics off.
3. history   — 7 days of history for every series (one-minute keys for 8 h, ten-minute and hourly
               roll-ups for 8 days, the modules' minutes, cumulative totals for every label set):
               Redis memory it takes; the Monitoring page's server time and the performance API for
               7 days, against a bare view in the same process.
4. metrics   — /metrics with every label set populated (about 7,000 samples), against a bare view
               and against prometheus_client's own exposition of the same histograms.
5. quantiles — 1,000,000 lognormal samples: relative error of p50/p95/p99 read from the sketch,
               against exact; baseline: Prometheus's default buckets with histogram_quantile.
6. browser   — from a module breaking (the index file moved away) to its card showing it degraded
               in Chromium, with health rounds every 10 s as beat sends them: p50/p95, split into
               waiting for the next round and the round plus the push.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import random
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import BASE_DIR, machine, migrate, percentile, setup_django, start_redis, table  # noqa: E402

# The flush thread of this process sleeps: the flush benchmark flushes by hand to time it alone.
DATA_DIR = setup_django(CHLOPS_METRICS_FLUSH_SECONDS="3600")
REDIS = start_redis()
migrate()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from prometheus_client import generate_latest  # noqa: E402
from prometheus_client.core import HistogramMetricFamily  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from chlops.redis_clients import redis_client  # noqa: E402
from indexes.embedders import embedder_get  # noqa: E402
from indexes.models import EmbeddingState, Entry  # noqa: E402
from monitoring.health import runner, services  # noqa: E402
from monitoring.metrics import RECORDER, reading, series  # noqa: E402
from monitoring.metrics.recorder import Tally, increments  # noqa: E402
from monitoring.metrics.sketch import GAMMA, Sketch  # noqa: E402
from monitoring.prometheus import Only  # noqa: E402
from operations.groups import groups_ensure  # noqa: E402
from operations.models import JobState  # noqa: E402
from operations.runner import job_execute  # noqa: E402
from operations.services import job_start  # noqa: E402
from operations.tokens import token_create  # noqa: E402

LOG_GAMMA = math.log(GAMMA)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def daphne(port: int, log: Path, **env: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "chlops.asgi:application"],
        cwd=BASE_DIR, env={**os.environ, **env}, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            get(port, "/ops/")
            return process
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"daphne did not start; see {log}")


def get(port: int, path: str, connection: http.client.HTTPConnection | None = None) -> int:
    own = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    own.request("GET", path, headers={"Host": "localhost"})
    response = own.getresponse()
    response.read()
    if connection is None:
        own.close()
    return response.status


def operator() -> User:
    groups_ensure()
    user, _ = User.objects.get_or_create(username="bench-operator", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name="Operators"))
    return user


# --- 1. Request overhead -------------------------------------------------------------------------


def load(port: int, seconds: float, clients: int) -> list[float]:
    """Latencies of `clients` keep-alive connections requesting /ops/ back to back for `seconds`."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop:
            started = time.perf_counter()
            get(port, "/ops/", connection)
            latencies[i].append(time.perf_counter() - started)
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [x for found in latencies for x in found]


def bench_overhead(seconds: float, rounds: int, clients: int = 4) -> list[list[object]]:
    with_port, without_port = free_port(), free_port()
    counting = daphne(with_port, DATA_DIR / "with.log", CHLOPS_METRICS="1")
    plain = daphne(without_port, DATA_DIR / "without.log", CHLOPS_METRICS="0")
    try:
        load(with_port, 1, clients), load(without_port, 1, clients)  # warm both
        found: dict[str, list[float]] = {"with": [], "without": []}
        for _ in range(rounds):  # alternating, so a noisy neighbour hits both alike
            found["with"] += load(with_port, seconds, clients)
            found["without"] += load(without_port, seconds, clients)
    finally:
        counting.terminate()
        plain.terminate()
    rows = []
    for name in ("without", "with"):
        values = found[name]
        rows.append([f"{name} monitoring", len(values), f"{percentile(values, 50) * 1000:.2f} ms", f"{percentile(values, 95) * 1000:.2f} ms"])
    p95_with, p95_without = percentile(found["with"], 95), percentile(found["without"], 95)
    added = p95_with - p95_without
    allowed = max(0.05 * p95_without, 0.0002)
    rows.append(["added at p95", "", "", f"{added * 1000:+.2f} ms ({added / p95_without:+.1%}); target ≤ {allowed * 1000:.2f} ms"])
    return rows


# --- 2. Flush cost ----------------------------------------------------------------------------------

LABELS = [
    (module, method, status)
    for module in series.MODULES
    for method, status in (("GET", "2xx"), ("GET", "2xx"), ("GET", "3xx"), ("POST", "2xx"), ("GET", "4xx"), ("GET", "5xx"))
]


def recording_loop(seconds: int, rate: int, *, flush: bool) -> tuple[float, float]:
    """(process CPU s, of which flushing) for `rate` observations a second over `seconds`."""
    rng = np.random.default_rng(5)
    latencies = rng.lognormal(-4, 0.8, rate).tolist()
    picks = [LABELS[i] for i in rng.integers(0, len(LABELS), rate)]
    flushing = 0.0
    started_cpu = time.process_time()
    for _second in range(seconds):
        tick = time.monotonic()
        for i in range(rate):
            module, method, status = picks[i]
            RECORDER.observe(series.HTTP, module, (method, status), latencies[i], error=status == "5xx")
            if i % 100 == 99:  # spread over the second, as traffic is
                time.sleep(max(0.0, tick + (i + 1) / rate - time.monotonic()))
        if flush:
            before = time.thread_time()
            assert RECORDER.flush()
            flushing += time.thread_time() - before
        time.sleep(max(0.0, tick + 1 - time.monotonic()))
    return time.process_time() - started_cpu, flushing


def redis_cpu() -> float:
    process = psutil.Process(REDIS.pid) if REDIS else None
    return sum(process.cpu_times()[:2]) if process else 0.0


def bench_flush(seconds: int, rate: int = 1000) -> list[list[object]]:
    settings.CHLOPS_METRICS = False
    idle_cpu, _ = recording_loop(seconds, rate, flush=False)
    settings.CHLOPS_METRICS = True
    redis_before = redis_cpu()
    busy_cpu, flushing = recording_loop(seconds, rate, flush=True)
    redis_used = redis_cpu() - redis_before
    recording = busy_cpu - flushing - idle_cpu
    return [
        ["baseline: the same loop, metrics off", f"{idle_cpu / seconds:.2%}", "", ""],
        ["recording (observe), 1,000 a second", f"{recording / seconds:.2%}", f"{recording / (seconds * rate) * 1e6:.1f} µs each", ""],
        ["flush, once a second", f"{flushing / seconds:.2%}", f"{flushing / seconds * 1000:.1f} ms each", "≤ 2 % of one core"],
        ["recording + flush", f"{(recording + flushing) / seconds:.2%}", "", "≤ 2 % of one core"],
        ["Redis applying the flushes", f"{redis_used / seconds:.2%}", "", ""],
    ]


# --- 3. Seven days of history -----------------------------------------------------------------------


def synthetic_tally(rng: np.random.Generator, n: int, mean_log: float, errors: float, buckets: int = len(series.LE)) -> Tally:
    values = rng.lognormal(mean_log, 0.8, n)
    tally = Tally(buckets)
    bins, counts = np.unique(np.ceil(np.log(np.maximum(values, 1e-6)) / LOG_GAMMA).astype(int), return_counts=True)
    tally.bins = dict(zip(bins.tolist(), counts.tolist(), strict=True))
    tally.n, tally.e, tally.us = n, int(n * errors), int(values.sum() * 1e6)
    return tally


def history_series() -> list[tuple[str, str, tuple[str, ...]]]:
    """Every series the store can hold, with one label set each (more label sets only add to the totals)."""
    found = []
    for family in series.FAMILIES.values():
        for key in family.keys():
            found.append((family.name, key, tuple(allowed[0] for _, allowed in family.labels)))
    return found


def history_fill(now: float) -> int:
    """Write 7 days of every series straight into its buckets; return the keys written."""
    rng = np.random.default_rng(11)
    client = redis_client(timeout=30)
    every = history_series()
    keys = 0
    # Minutes for 25 hours: the modules' minutes are kept that long (a series' minute past 8 h expires at once).
    plans = [(series.MINUTE, 25 * 3600, 60), (series.TEN_MINUTES, 8 * 86400, 300), (series.HOUR, 8 * 86400, 600)]
    for width, keep, samples in plans:
        starts = range(series.bucket_start(now - keep + width, width), int(now), width)
        for start in starts:
            pending = {
                (start, name, key, labels): synthetic_tally(rng, samples, -4 + 0.1 * i % 2, 0.01, len(series.FAMILIES[name].le))
                for i, (name, key, labels) in enumerate(every)
            }
            with client.pipeline(transaction=False) as pipe:
                for (hash_key, expire_at), fields in increments(pending).items():
                    if not _wanted(hash_key, width):
                        continue
                    pipe.hset(hash_key, mapping=fields)
                    if expire_at:
                        pipe.expireat(hash_key, expire_at)
                    keys += 1
                pipe.execute()
    return keys


def totals_fill(now: float) -> None:
    """A cumulative histogram for every label set /metrics can show: each module × method × status class, each job type × outcome…"""
    rng = np.random.default_rng(13)
    totals: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
    for family in series.FAMILIES.values():
        for key in family.keys():
            for combo in _combos([allowed for _, allowed in family.labels]):
                tally = synthetic_tally(rng, 50, -4, 0.01, len(family.le))
                tally.le = np.histogram(rng.lognormal(-4, 0.8, 50), bins=[0, *family.le, np.inf])[0].tolist()
                for (hash_key, expire_at), fields in increments({(series.bucket_start(now, 60), family.name, key, combo): tally}).items():
                    if expire_at == 0:
                        totals[(hash_key, 0)].update(fields)
    with redis_client(timeout=30).pipeline(transaction=False) as pipe:
        for (hash_key, _), fields in totals.items():
            pipe.hset(hash_key, mapping=fields)
        pipe.execute()


def _wanted(hash_key: str, width: int) -> bool:
    """Of what increments() writes for a bucket, only the resolution being filled (totals come last)."""
    if ":total:" in hash_key:
        return False
    return f":{series.WIDTHS[width]}:" in hash_key


def _combos(sets: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    combos: list[tuple[str, ...]] = [()]
    for allowed in sets:
        combos = [c + (v,) for c in combos for v in allowed]
    return combos


def timed(call, repeat: int) -> list[float]:
    found = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        found.append(time.perf_counter() - started)
    return found


def clients() -> tuple[Client, Client]:
    """A logged-in browser session and a scraper with an API token, both of the bench's operator."""
    user = operator()
    browser = Client(HTTP_HOST="localhost")
    browser.force_login(user)
    token = token_create(user=user, name="bench", source="cli")[1]
    return browser, Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")


def measure(measures: list[tuple[str, object, str]], repeat: int) -> list[list[object]]:
    rows = []
    for name, call, target in measures:
        call()  # warm
        values = timed(call, repeat)
        rows.append([name, f"{percentile(values, 50) * 1000:.1f} ms", f"{percentile(values, 95) * 1000:.1f} ms", target])
    return rows


def bench_history(repeat: int = 30) -> tuple[list[list[object]], str]:
    client = redis_client(timeout=30)
    before = client.info("memory")["used_memory"]
    started = time.perf_counter()
    keys = history_fill(time.time())
    totals_fill(time.time())
    filled = time.perf_counter() - started
    used = client.info("memory")["used_memory"] - before
    services.health_store([runner.ModuleAnswer(name, "healthy", "", 3.0, ()) for name in series.MODULES], minutes=None)
    browser, _ = clients()
    rows = measure(
        [
            ("baseline: a bare view (`/ops/` redirect)", lambda: browser.get("/ops/"), ""),
            ("Monitoring page (1h range)", lambda: browser.get("/admin/ops/monitoring/"), "p95 ≤ 300 ms"),
            ("performance API, 7d range", lambda: browser.get("/api/monitoring/performance?range=7d"), ""),
            ("Monitoring page, 7d range", lambda: browser.get("/admin/ops/monitoring/?range=7d"), ""),
        ],
        repeat,
    )
    note = f"{keys:,} hashes written in {filled:.0f} s; Redis memory for 7 days of every series: {used / 2**20:.1f} MiB (target ≤ 50 MB)"
    return rows, note


# --- 4. /metrics -----------------------------------------------------------------------------------


def bench_metrics(repeat: int = 100) -> tuple[list[list[object]], str]:
    totals_fill(time.time())
    services.health_store([runner.ModuleAnswer(name, "healthy", "", 3.0, ()) for name in series.MODULES], minutes=None)
    browser, scraper = clients()
    rows = measure(
        [
            ("baseline: a bare view (`/ops/` redirect)", lambda: browser.get("/ops/"), ""),
            ("baseline: the histograms through prometheus_client's exposition (before)", client_exposition, ""),
            ("`/metrics`, every label set", lambda: scraper.get("/metrics"), "p95 ≤ 100 ms"),
        ],
        repeat,
    )
    text = scraper.get("/metrics").content
    samples = sum(len(family.samples) for family in text_string_to_metric_families(text.decode()))
    return rows, f"/metrics is {len(text) / 1024:.0f} KiB, {samples:,} samples"


def client_exposition() -> bytes:
    """Every family's histograms built as prometheus_client's objects and written by its generate_latest."""
    totals, _ = reading.cumulative()
    found = []
    for family in series.FAMILIES.values():
        metric = HistogramMetricFamily(family.metric, family.help, labels=[family.key_label, *(name for name, _ in family.labels)])
        for values, total in sorted(totals[family.name].items()):
            cumulative, buckets = 0, []
            for bound, n in zip([*map(str, family.le), "+Inf"], total.buckets, strict=True):
                cumulative += n
                buckets.append((bound, cumulative))
            metric.add_metric(list(values), buckets, total.sum_us / 1_000_000)
        found.append(metric)
    return generate_latest(Only(*found))


# --- 5. Quantile accuracy ----------------------------------------------------------------------------

PROMETHEUS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


def histogram_quantile(q: float, values: np.ndarray) -> float:
    """Prometheus's histogram_quantile over its default buckets: linear inside the bucket."""
    bounds = np.array(PROMETHEUS_BUCKETS)
    counts = np.searchsorted(np.sort(values), bounds, side="right")
    rank = q * len(values)
    index = int(np.searchsorted(counts, rank))
    if index >= len(bounds):
        return float(bounds[-1])
    lower, below = (0.0, 0) if index == 0 else (bounds[index - 1], counts[index - 1])
    return float(lower + (bounds[index] - lower) * (rank - below) / max(1, counts[index] - below))


def bench_quantiles(samples: int = 1_000_000) -> list[list[object]]:
    values = np.random.default_rng(2).lognormal(-3.5, 1.0, samples)
    sketch = Sketch()
    started = time.perf_counter()
    for value in values.tolist():
        sketch.add(value)
    took = time.perf_counter() - started
    rows = []
    for q in (0.5, 0.95, 0.99):
        exact = float(np.quantile(values, q))
        ours = sketch.quantile(q)
        theirs = histogram_quantile(q, values)
        rows.append([f"p{round(q * 100)}", f"{exact * 1000:.2f} ms", f"{ours * 1000:.2f} ms ({abs(ours - exact) / exact:.2%})",
                     f"{theirs * 1000:.2f} ms ({abs(theirs - exact) / exact:.1%})"])  # fmt: skip
    rows.append(["bins used", "", f"{len(sketch.bins)} ({took / samples * 1e6:.2f} µs per sample added)", f"{len(PROMETHEUS_BUCKETS) + 1}"])
    return rows


# --- 6. Break → card, in a browser ------------------------------------------------------------------


def index_serve(rows: int = 50) -> None:
    """A served index of `rows` embedded entries, built by the reindex job as a worker runs it."""
    model, now = embedder_get(), timezone.now()
    vectors = np.random.default_rng(3).standard_normal((rows, model.dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    Entry.objects.bulk_create(
        Entry(
            kind="manual", external_id=f"bench-health-{i}", title=f"bench health {i}", content_hash=f"bench-health-{i}",
            embedding=vector.tobytes(), embedding_model=model.model_id, embedding_state=EmbeddingState.READY, embedded_at=now,
        )
        for i, vector in enumerate(vectors)
    )  # fmt: skip
    job = job_start(type="reindex", params={}, source="system")
    job_execute(job_id=job.pk)  # here, not on a worker: the bench starts none
    job.refresh_from_db()
    if job.state != JobState.SUCCEEDED:
        raise RuntimeError(f"the reindex job {job.pk} ended {job.state}: {job.error}")


def bench_browser(reps: int) -> list[list[object]]:
    from playwright.sync_api import sync_playwright

    from indexes.store import index_manifest, served_dir

    index_serve()
    services.health_round()
    port = free_port()
    web = daphne(port, DATA_DIR / "browser-web.log")
    interval = settings.CHLOPS_HEALTH_INTERVAL
    rounds_done: list[float] = []
    stop = threading.Event()

    def beat() -> None:  # what celery beat does: a round every interval, whatever happens
        while not stop.wait(interval):
            services.health_round()
            rounds_done.append(time.monotonic())

    user = operator()
    user.set_password("bench-password-1")
    user.save()
    total, waiting, delivering = [], [], []
    name = sorted(index_manifest()["files"])[0]
    served = served_dir() / name
    ticker = threading.Thread(target=beat, daemon=True)
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls between browser steps, as the browser tests do
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
            page = browser.new_page(base_url=f"http://127.0.0.1:{port}")
            page.goto("/admin/login/")
            page.fill("#id_username", user.username)
            page.fill("#id_password", "bench-password-1")
            page.click("input[type=submit]")
            page.wait_for_url("**/admin/")
            page.goto("/admin/ops/monitoring/")
            page.wait_for_function("() => window.chlopsOps && window.chlopsOps.lastSeq !== null")
            ticker.start()
            for _ in range(reps):
                page.wait_for_selector('#module-index[data-status="healthy"]', timeout=60_000)
                time.sleep(random.uniform(0, interval))  # break at any point of beat's cycle
                seen = len(rounds_done)
                broken = time.monotonic()
                served.rename(served.with_name(name + ".away"))
                page.wait_for_selector('#module-index[data-status="degraded"]', timeout=60_000)
                shown = time.monotonic()
                found_by = next(at for at in rounds_done[seen:])  # the first round that ended after the break
                total.append(shown - broken)
                delivering.append(max(0.0, shown - found_by))
                waiting.append(total[-1] - delivering[-1])
                served.with_name(name + ".away").rename(served)
            browser.close()
    finally:
        stop.set()
        web.terminate()
    return [
        ["break → card shows it (total)", f"{percentile(total, 50):.2f} s", f"{percentile(total, 95):.2f} s", "report (alerts issue: 1 s)"],
        ["  of which: waiting for the next round", f"{percentile(waiting, 50):.2f} s", f"{percentile(waiting, 95):.2f} s", f"rounds every {interval} s"],
        ["  of which: round ended → card in the browser", f"{percentile(delivering, 50) * 1000:.0f} ms", f"{percentile(delivering, 95) * 1000:.0f} ms", ""],
    ]


PARTS = ("overhead", "flush", "quantiles", "history", "metrics", "browser")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8, help="seconds per load round (overhead) and of recording (flush ×2)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating load rounds per server")
    parser.add_argument("--reps", type=int, default=10, help="breaks of the index for the browser measure")
    parser.add_argument("--skip", default="", help=f"comma-separated parts to leave out: {','.join(PARTS)}")
    parser.add_argument("--only", default="", help="comma-separated parts to run, none other (e.g. --only metrics)")
    args = parser.parse_args()
    chosen = set(filter(None, args.only.split(","))) or set(PARTS)
    skip = set(PARTS) - chosen | set(filter(None, args.skip.split(",")))
    if unknown := (chosen | skip) - set(PARTS):
        parser.error(f"unknown part {', '.join(sorted(unknown))}: the parts are {', '.join(PARTS)}")
    print(f"Machine: {machine()}; load average {os.getloadavg()[0]:.2f} at start")
    try:
        if "overhead" not in skip:
            print("\nRequest overhead: `/ops/` with and without monitoring, 4 keep-alive clients, alternating rounds")
            print(table(["server", "requests", "p50", "p95"], bench_overhead(args.seconds, args.rounds)))
        if "flush" not in skip:
            print("\nFlush cost at 1,000 requests a second (CPU as % of one core)")
            print(table(["what", "CPU", "per call", "target"], bench_flush(int(args.seconds * 2))))
        if "quantiles" not in skip:
            print("\nQuantile accuracy, 1,000,000 lognormal samples (relative error)")
            print(table(["quantile", "exact", "our bins (2 %)", "baseline: Prometheus default buckets"], bench_quantiles()))
        if "history" not in skip:
            rows, note = bench_history()
            print("\nSeven days of history for every series: server time, 30 requests each")
            print(table(["request", "p50", "p95", "target"], rows))
            print(note)
        if "metrics" not in skip:
            rows, note = bench_metrics()
            print("\n/metrics with every label set populated: server time, 100 requests each")
            print(table(["request", "p50", "p95", "target"], rows))
            print(note)
        if "browser" not in skip:
            print(f"\nA module breaking → its card in Chromium ({args.reps} breaks of the index)")
            print(table(["measure", "p50", "p95", "target"], bench_browser(args.reps)))
    finally:
        print(f"\nLoad average {os.getloadavg()[0]:.2f} at the end")
        if REDIS:
            REDIS.terminate()


if __name__ == "__main__":
    main()
