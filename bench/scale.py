"""Scale: the portal at a million jobs and hundreds of open dashboards (issue 8's table).

    python bench/scale.py [--jobs 1000000] [--sockets 500] [--rounds 30] [--idle-seconds 600]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chlops_scale python bench/scale.py ...

A stack like `runstack`'s (daphne, one Celery worker, Redis embedded unless REDIS_URL is set) on a
database seeded with --jobs finished jobs over 30 days, spread over every registered type, three
end states, five requesters and every source, with one audit row each. Seeding is done by the
database itself (a recursive CTE on SQLite, generate_series on PostgreSQL), reused by later runs
when the count matches (--fresh to regenerate); a PostgreSQL database is created if missing, and
only that one is touched. With --data-dir the SQLite database and embedded Redis live there, so a
second run skips seeding.

Measured, in order, against daphne over real HTTP and real websockets (the `websockets` client):

1. page times, sequential keep-alive GETs as an operator: `GET /admin/` (the baseline, same run),
   the Operations page, the Job changelist unfiltered and filtered by state, type and requester;
2. the websocket snapshot's production time (rendered in this process without its cache, as the
   consumer renders it once per sequence number) and as one client sees it;
3. opening --sockets sockets at once, each until its snapshot arrived;
4. `POST /api/jobs` (a canary with a bearer token), and a new job's row reaching every socket,
   timed from the POST; baseline: a bare `group_send` of a constant string to the same sockets;
5. the sockets idle for --idle-seconds: how many the server closed, daphne's CPU meanwhile, and
   that a push afterwards reaches every one;
6. the same pushes with two daphne processes serving half of the sockets each;
7. the web process's RSS after start-up, --rss-jobs finished jobs and a dashboard view, before
   and after the first search (a fresh SQLite stack, in a child process).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import (  # noqa: E402
    BASE_DIR,
    database_ensure,
    machine,
    migrate,
    percentile,
    setup_django,
    start_redis,
    start_worker,
    table,
)
from bench.live_latency import free_port  # noqa: E402

DAYS = 30
REQUESTERS = 5
BATCH = 200_000
HTTP_REQUESTS = 30
ROUND_GAP = 0.25  # seconds between two measured pushes, as bench/live_latency.py leaves
TARGETS = {
    "ops": 100, "changelist": 300, "changelist_filtered": 150, "snapshot": 50, "post": 50, "push": 100,
    "connect_s": 10, "cpu_percent": 5, "rss_mib": 150,
}  # fmt: skip


# --- Seeding ------------------------------------------------------------------------------


def users_ensure() -> tuple[object, list[int]]:
    """The operator the benchmark acts as, and the requesters of the seeded jobs."""
    from django.contrib.auth.models import Group, User

    from operations.groups import groups_ensure

    groups_ensure()
    operator, _ = User.objects.get_or_create(username="bench-operator", defaults={"is_staff": True})
    operator.groups.add(Group.objects.get(name="Operators"))
    requesters = [
        User.objects.get_or_create(username=f"bench-requester-{n}", defaults={"is_staff": True})[0].pk
        for n in range(REQUESTERS)
    ]
    return operator, requesters


def seeded_count() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM operations_job WHERE worker = 'bench-seed'")
        return cursor.fetchone()[0]


def seed(jobs: int, requesters: list[int], *, fresh: bool) -> None:
    """Fill the jobs table with `jobs` finished jobs (and one audit row each), unless it holds them."""
    from django.db import connection

    from audit.triggers import triggers_drop, triggers_install
    from operations import registry

    if not fresh and seeded_count() == jobs:
        print(f"reusing the {jobs:,} seeded jobs already there")
        return
    started = time.perf_counter()
    types = [t.name for t in registry.all_types()]
    sources = ["web", "admin", "api", "cli", "cron", "system"]
    with connection.cursor() as cursor:
        triggers_drop(connection)  # the benchmark owns this database; the audit table is emptied below
        for table_name in ("operations_jobhistory", "operations_job", "audit_auditlog"):
            cursor.execute(f"DELETE FROM {table_name}")
        triggers_install(connection)
        pick = _sql_pick_postgresql if connection.vendor == "postgresql" else _sql_pick_sqlite
        for low in range(1, jobs + 1, BATCH):
            high = min(jobs, low + BATCH - 1)
            if connection.vendor == "postgresql":
                _seed_batch_postgresql(cursor, low, high, jobs, types, sources, requesters, pick)
            else:
                _seed_batch_sqlite(cursor, low, high, jobs, types, sources, requesters, pick)
            print(f"  seeded {high:,} / {jobs:,} jobs ({time.perf_counter() - started:.0f} s)", flush=True)
        cursor.execute("ANALYZE" if connection.vendor == "sqlite" else "VACUUM ANALYZE operations_job")
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE audit_auditlog")
    print(f"seeded {jobs:,} jobs and audit rows in {time.perf_counter() - started:.0f} s")


def _sql_pick_sqlite(values: list, expr: str) -> str:
    cases = " ".join(f"WHEN {i} THEN {_literal(v)}" for i, v in enumerate(values))
    return f"(CASE ({expr}) % {len(values)} {cases} END)"


def _sql_pick_postgresql(values: list, expr: str) -> str:
    array = "ARRAY[" + ",".join(_literal(v) for v in values) + "]"
    return f"({array})[1 + ({expr}) % {len(values)}]"


def _literal(value) -> str:
    return str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"


JOB_COLUMNS = (
    "id, type, state, phase, done, total, rate, params, result, error, lock_key, queue, requested_by_id, source, "
    "correlation_id, created_at, started_at, finished_at, cancel_requested_at, heartbeat_at, progress_at, worker, "
    "retry_of_id"
)


def _columns(pick, types, sources, requesters, *, n: str, r: str, created: str, finished: str) -> str:
    state = f"CASE WHEN {r} % 20 < 16 THEN 'succeeded' WHEN {r} % 20 < 19 THEN 'failed' ELSE 'cancelled' END"
    requester = f"CASE WHEN {r} % 10 = 0 THEN NULL ELSE {pick(requesters, f'{r} / 10')} END"
    return f"""
        {n}, {pick(types, r + ' / 7')}, {state}, '', 10, 10, NULL, '{{}}', NULL,
        CASE WHEN {r} % 20 BETWEEN 16 AND 18 THEN 'seeded failure' ELSE '' END, NULL, 'jobs',
        {requester}, {pick(sources, r + ' / 3')}, %(uuid)s, {created}, {created}, {finished}, NULL, {finished},
        {finished}, 'bench-seed', NULL
    """


def _seed_batch_sqlite(cursor, low, high, jobs, types, sources, requesters, pick) -> None:
    step = DAYS * 86_400 / jobs
    now = int(time.time())
    created = f"datetime({now - DAYS * 86_400} + CAST(n * {step} AS INTEGER), 'unixepoch')"
    finished = f"datetime({now - DAYS * 86_400} + CAST(n * {step} AS INTEGER) + 2, 'unixepoch')"
    columns = _columns(pick, types, sources, requesters, n="n", r="r", created=created, finished=finished)
    columns = columns.replace("%(uuid)s", "printf('%032x', n)")
    series = f"""
        WITH RECURSIVE g(n) AS (SELECT {low} UNION ALL SELECT n + 1 FROM g WHERE n < {high}),
        s(n, r) AS (SELECT n, (n * 2654435761) % 4294967291 FROM g)
    """
    cursor.execute(f"{series} INSERT INTO operations_job ({JOB_COLUMNS}) SELECT {columns} FROM s")
    cursor.execute(
        f"""{series}
        INSERT INTO audit_auditlog (id, created_at, actor_id, actor_username, source, action, target, outcome, details,
                                    ip, user_agent, correlation_id, prev_hash, hash)
        SELECT n, {created}, NULL, '', 'api', 'job.start', 'job #' || n, 'success', '{{}}', NULL, 'bench/1.0',
               printf('%032x', n), printf('%064x', n - 1), printf('%064x', n)
        FROM s
        """
    )


def _seed_batch_postgresql(cursor, low, high, jobs, types, sources, requesters, pick) -> None:
    step_us = DAYS * 86_400_000_000 // jobs
    created = f"(now() - interval '{DAYS} days' + (n * {step_us}) * interval '1 microsecond')"
    finished = f"({created} + interval '2 seconds')"
    columns = _columns(pick, types, sources, requesters, n="n", r="r", created=created, finished=finished)
    columns = columns.replace("%(uuid)s", "md5(n::text)::uuid").replace("'{}'", "'{}'::jsonb")
    series = f"(SELECT n, (hashint8(n)::bigint & 2147483647) AS r FROM generate_series({low}::bigint, {high}::bigint) AS n) AS s"
    cursor.execute(f"INSERT INTO operations_job ({JOB_COLUMNS}) SELECT {columns} FROM {series}")
    cursor.execute(
        f"""
        INSERT INTO audit_auditlog (id, created_at, actor_id, actor_username, source, action, target, outcome, details,
                                    ip, user_agent, correlation_id, prev_hash, hash)
        SELECT n, {created}, NULL, '', 'api', 'job.start', 'job #' || n, 'success', '{{}}'::jsonb, NULL, 'bench/1.0',
               md5(n::text)::uuid, md5((n - 1)::text) || md5((n - 1)::text), md5(n::text) || md5(n::text)
        FROM {series}
        """
    )
    if high == jobs:
        for table_name in ("operations_job", "audit_auditlog"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table_name}', 'id'), {jobs})")



# --- Processes ------------------------------------------------------------------------------


def start_daphne(port: int, log: Path) -> subprocess.Popen:
    """daphne as `runstack` starts it (chlops.stack.daphne_command), once it listens."""
    import socket

    from chlops.stack import daphne_command

    process = subprocess.Popen(
        daphne_command("127.0.0.1", port), cwd=BASE_DIR, env=dict(os.environ), stdout=open(log, "wb"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.1)
    raise SystemExit(f"daphne did not start; see {log}")


# --- Pages ----------------------------------------------------------------------------------


def session_cookie(user) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def timed_gets(port: int, cookie: str, path: str, requests: int) -> list[float]:
    """Sequential keep-alive GETs, after two that warm the connection and the caches; ms each."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    for n in range(requests + 2):
        started = time.perf_counter()
        connection.request("GET", path, headers={"Cookie": cookie, "Host": "127.0.0.1"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"GET {path} answered {response.status}")
        if n >= 2:
            times.append((time.perf_counter() - started) * 1000)
    connection.close()
    return times


def post_job(port: int, token: str) -> tuple[float, int, float]:
    """POST a canary to /api/jobs; return when it was sent, the job's id and the answer's time in ms."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps({"type": "canary", "params": {"seconds": 0}})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Host": "127.0.0.1"}
    sent = time.perf_counter()
    connection.request("POST", "/api/jobs", body=body, headers=headers)
    response = connection.getresponse()
    answer = response.read()
    took = (time.perf_counter() - sent) * 1000
    connection.close()
    if response.status != 201:
        raise SystemExit(f"POST /api/jobs answered {response.status}: {answer[:300]!r}")
    return sent, json.loads(answer)["id"], took


def job_finished_wait(job_id: int, timeout: float = 60) -> None:
    from django.db import close_old_connections

    from operations.models import FINISHED_STATES, Job

    deadline = time.monotonic() + timeout
    while not Job.objects.filter(pk=job_id, state__in=FINISHED_STATES).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"job #{job_id} did not finish within {timeout:.0f} s; is the worker up?")
        time.sleep(0.02)
    close_old_connections()


def snapshot_render_times(renders: int) -> list[float]:
    """What one snapshot costs the server, without the cache that shares it between clients (ms)."""
    from operations import broadcasts, fragments

    times = []
    for n in range(renders + 2):
        started = time.perf_counter()
        fragments.snapshot(seq=broadcasts.current_seq(), can_run=True, filters=fragments.JobFilters())
        if n >= 2:
            times.append((time.perf_counter() - started) * 1000)
    return times


# --- Sockets --------------------------------------------------------------------------------


@dataclass
class Dashboard:
    socket: object
    queue: asyncio.Queue
    listener: asyncio.Task
    opened_in: float
    closed_code: list[int | None] = field(default_factory=list)


async def dashboard_open(port: int, cookie: str) -> Dashboard:
    from websockets.asyncio.client import connect

    started = time.perf_counter()
    socket = await connect(
        f"ws://127.0.0.1:{port}/ws/ops/?view=dashboard", origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": cookie}, max_size=None, open_timeout=120, ping_interval=None,
    )  # fmt: skip
    snapshot = await asyncio.wait_for(socket.recv(), 120)
    if 'data-snapshot="true"' not in snapshot:
        raise SystemExit(f"the first message was not a snapshot: {snapshot[:200]}")
    queue: asyncio.Queue = asyncio.Queue()
    dashboard = Dashboard(socket, queue, None, time.perf_counter() - started)  # type: ignore[arg-type]
    dashboard.listener = asyncio.create_task(_listen(dashboard))
    return dashboard


async def _listen(dashboard: Dashboard) -> None:
    from websockets.exceptions import ConnectionClosed

    try:
        async for message in dashboard.socket:
            dashboard.queue.put_nowait((time.perf_counter(), message))
    except ConnectionClosed:
        pass
    dashboard.closed_code.append(dashboard.socket.close_code)


async def dashboards_open(port: int, cookie: str, count: int) -> tuple[list[Dashboard], float]:
    started = time.perf_counter()
    dashboards = await asyncio.gather(*(dashboard_open(port, cookie) for _ in range(count)))
    return list(dashboards), time.perf_counter() - started


async def dashboards_close(dashboards: list[Dashboard]) -> None:
    await asyncio.gather(*(d.socket.close() for d in dashboards))
    await asyncio.gather(*(d.listener for d in dashboards), return_exceptions=True)


async def arrivals(dashboards: list[Dashboard], *markers: str, timeout: float = 15) -> tuple[list[float], int]:
    """When each dashboard got a message carrying every marker; how many never did within `timeout`."""

    async def one(dashboard: Dashboard) -> float | None:
        try:
            while True:
                arrived, message = await asyncio.wait_for(dashboard.queue.get(), timeout)
                if all(marker in message for marker in markers):
                    return arrived
        except TimeoutError:
            return None

    found = await asyncio.gather(*(one(d) for d in dashboards))
    return [t for t in found if t is not None], sum(t is None for t in found)


async def job_push_rounds(port: int, token: str, dashboards: list[Dashboard], rounds: int) -> dict:
    """POST a canary per round; time the answer and the new row's arrival at every dashboard.

    A round ends when every dashboard shows the job succeeded (the worker's pushes), and the next
    starts ROUND_GAP later: each POST meets a server that is not still sending the last round out.
    """
    posts, latencies, missed = [], [], 0
    for _ in range(rounds):
        sent, job_id, took = await asyncio.to_thread(post_job, port, token)
        posts.append(took)
        got, lost = await arrivals(dashboards, f'<tr id="job-{job_id}"')
        latencies += [(t - sent) * 1000 for t in got]
        missed += lost
        await asyncio.to_thread(job_finished_wait, job_id)  # the canary's lock is free for the next round
        await arrivals(dashboards, f'data-job-id="{job_id}" data-state="succeeded"')
        await asyncio.sleep(ROUND_GAP)
    return {"posts": posts, "latencies": latencies, "missed": missed}


async def bare_publish_rounds(dashboards: list[Dashboard], rounds: int) -> dict:
    """The baseline: a constant fragment sent to the group, no database, no rendering."""
    from operations import broadcasts

    latencies, missed = [], 0
    for n in range(rounds):
        marker = f"bench-bare-{n}-{time.time_ns()}"
        sent = time.perf_counter()
        await asyncio.to_thread(broadcasts.publish, f'<div id="{marker}"></div>')
        got, lost = await arrivals(dashboards, marker)
        latencies += [(t - sent) * 1000 for t in got]
        missed += lost
        await asyncio.sleep(ROUND_GAP)
    return {"latencies": latencies, "missed": missed}


def cpu_seconds(pid: int) -> float:
    import psutil

    process = psutil.Process(pid)
    total = sum(process.cpu_times()[:2])
    for child in process.children(recursive=True):
        total += sum(child.cpu_times()[:2])
    return total


async def idle_check(dashboards: list[Dashboard], daphne_pid: int, seconds: float) -> dict:
    """Hold every socket with no user traffic; count the ones the server closed and daphne's CPU."""
    cpu_before, started = cpu_seconds(daphne_pid), time.perf_counter()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - started
    cpu = (cpu_seconds(daphne_pid) - cpu_before) / elapsed * 100
    closed = [d.closed_code[0] for d in dashboards if d.closed_code]
    for d in dashboards:  # what arrived meanwhile (workers' cards) is not what the next check waits for
        while not d.queue.empty():
            d.queue.get_nowait()
    after = await bare_publish_rounds(dashboards, 1)
    return {"closed": closed, "cpu_percent": cpu, "seconds": elapsed, "reached_after": len(after["latencies"])}


# --- Web process memory (a child process: its own fresh data dir and SQLite database) -------


def rss_measure(jobs: int) -> dict:
    import numpy as np
    import psutil

    from indexes.embedders import embedder_spec
    from indexes.store import index_build, index_publish, set_write, staging_dir
    from operations import tokens

    operator, requesters = users_ensure()
    seed(jobs, requesters, fresh=True)
    spec = embedder_spec()
    vectors = np.random.default_rng(1).standard_normal((1000, spec.dimension), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    built = index_build(vectors, exact_max=1000, approx="pq", recall_target=0.95, hnsw_m=32)
    with staging_dir() as staged:
        set_write(staged=staged, built=built, ids=np.arange(1, 1001), kinds=np.zeros(1000, dtype=np.uint8))
        index_publish(staged=staged, manifest={
            "vectors": 1000, "dimension": spec.dimension, "embedder": spec.model_id, "index_type": built.index_type,
            "search_params": built.search_params, "recall_at_10": built.recall_at_10,
            "kinds": ["experience", "manual", "document"], "built_at": "2026-01-01T00:00:00+00:00",
        })  # fmt: skip
    cookie = session_cookie(operator)
    _, token = tokens.token_create(user=operator, name="bench", source="cli")
    port = free_port()
    daphne = start_daphne(port, Path(os.environ["CHLOPS_DATA_DIR"]) / "daphne-rss.log")
    try:
        process = psutil.Process(daphne.pid)
        time.sleep(2)  # settled after start-up: the figure an operator reads from `ps` before anyone visits
        figures = {"start-up": process.memory_info().rss}
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", "/admin/ops/", headers={"Cookie": cookie, "Host": "127.0.0.1"})
        if connection.getresponse().read() and process.is_running():
            figures["after a dashboard view"] = process.memory_info().rss
        connection.request("GET", "/api/search?q=reindex+the+corpus&mode=dense", headers={"Authorization": f"Bearer {token}", "Host": "127.0.0.1"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"the first search answered {response.status}")
        figures["after the first search"] = process.memory_info().rss
    finally:
        daphne.terminate()
        daphne.wait(10)
    return {name: rss / 2**20 for name, rss in figures.items()}


def rss_in_child(jobs: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CHLOPS_DATA_DIR", "REDIS_URL")}
    env["CHLOPS_DATA_DIR"] = tempfile.mkdtemp(prefix="chlops-bench-rss-")
    ran = subprocess.run(
        [sys.executable, __file__, "--rss-only", "--jobs", str(jobs)], env=env, capture_output=True, text=True, timeout=600
    )
    if ran.returncode != 0:
        raise SystemExit(f"the memory measurement failed:\n{ran.stdout[-2000:]}\n{ran.stderr[-3000:]}")
    return json.loads(ran.stdout.strip().splitlines()[-1])


# --- The run --------------------------------------------------------------------------------


def ms(values: list[float]) -> list[str]:
    if not values:
        return ["—", "—", "—"]
    return [f"{percentile(values, 50):,.1f} ms", f"{percentile(values, 95):,.1f} ms", f"{max(values):,.1f} ms"]


async def sockets_run(args, port: int, cookie: str, token: str, daphne_pid: int) -> dict:
    results: dict = {}
    one = await dashboard_open(port, cookie)
    results["one_snapshot_ms"] = one.opened_in * 1000
    results["one"] = await job_push_rounds(port, token, [one], min(10, args.rounds))
    await dashboards_close([one])
    dashboards, took = await dashboards_open(port, cookie, args.sockets)
    results["connect_s"] = took
    results["connect_each"] = [d.opened_in * 1000 for d in dashboards]
    print(f"  {args.sockets} sockets open in {took:.1f} s", flush=True)
    results["jobs"] = await job_push_rounds(port, token, dashboards, args.rounds)
    results["bare"] = await bare_publish_rounds(dashboards, args.rounds)
    print(f"  pushes measured; idle for {args.idle_seconds:.0f} s", flush=True)
    results["idle"] = await idle_check(dashboards, daphne_pid, args.idle_seconds)
    await dashboards_close(dashboards)
    return results


async def two_daphnes_run(args, ports: list[int], cookie: str, token: str) -> dict:
    half = args.sockets // 2
    opened = await asyncio.gather(*(dashboards_open(port, cookie, half) for port in ports))
    dashboards = [d for group, _ in opened for d in group]
    print(f"  {len(dashboards)} sockets open on {len(ports)} daphne processes", flush=True)
    pushes = await job_push_rounds(ports[0], token, dashboards, args.rounds)
    await dashboards_close(dashboards)
    return pushes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=30, help="POSTs (and bare publishes) per socket measurement")
    parser.add_argument("--requests", type=int, default=HTTP_REQUESTS, help="timed GETs per page")
    parser.add_argument("--idle-seconds", type=float, default=600)
    parser.add_argument("--rss-jobs", type=int, default=2000)
    parser.add_argument("--fresh", action="store_true", help="seed again even if the jobs are there")
    parser.add_argument("--data-dir", help="keep the SQLite database and Redis socket here, for later runs")
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--rss-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.data_dir:
        os.environ["CHLOPS_DATA_DIR"] = args.data_dir
        Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        database_ensure(url)
    data_dir = setup_django()
    redis = start_redis()
    children = []
    try:
        migrate()
        if args.rss_only:
            print(json.dumps(rss_measure(args.jobs)))
            return
        from django.contrib.auth.models import User
        from django.db import connection

        from operations import tokens

        operator, requesters = users_ensure()
        seed(args.jobs, requesters, fresh=args.fresh)
        if args.seed_only:
            return
        load_before = os.getloadavg()
        admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
        admin_cookie, cookie = session_cookie(admin), session_cookie(operator)
        _, token = tokens.token_create(user=operator, name="bench", source="cli")
        children.append(start_worker("scale", concurrency=1, log=data_dir / "worker.log"))
        ports = [free_port(), free_port()]
        children.append(start_daphne(ports[0], data_dir / "daphne-a.log"))

        print("pages", flush=True)
        pages = [
            ("`GET /admin/` (baseline)", "/admin/", None),
            ("`GET /admin/ops/`", "/admin/ops/", TARGETS["ops"]),
            ("`GET /admin/operations/job/` (Job changelist)", "/admin/operations/job/", TARGETS["changelist"]),
            ("… `?state__exact=failed`", "/admin/operations/job/?state__exact=failed", TARGETS["changelist_filtered"]),
            ("… `?type__exact=canary`", "/admin/operations/job/?type__exact=canary", TARGETS["changelist_filtered"]),
            ("… `?requested_by__id__exact=<a requester>`", f"/admin/operations/job/?requested_by__id__exact={requesters[1]}", TARGETS["changelist_filtered"]),
        ]  # fmt: skip
        page_rows = []
        for name, path, target in pages:
            times = timed_gets(ports[0], admin_cookie, path, args.requests)
            page_rows.append([name, len(times), *ms(times), f"p95 ≤ {target} ms" if target else ""])
        snapshot_times = snapshot_render_times(20)

        print("sockets", flush=True)
        # The clients are the instrument: 500 sockets in one Python process make its own full garbage
        # collections pause every socket's reading for 100–200 ms, which browsers, each its own
        # process, never do. The collector stays off in this process from here on.
        gc.collect()
        gc.freeze()
        gc.disable()
        one_daphne = asyncio.run(sockets_run(args, ports[0], cookie, token, children[-1].pid))
        print("two daphne processes", flush=True)
        children.append(start_daphne(ports[1], data_dir / "daphne-b.log"))
        two = asyncio.run(two_daphnes_run(args, ports, cookie, token))
        print("web process memory (a fresh SQLite stack)", flush=True)
        rss = rss_in_child(args.rss_jobs)
        load_after = os.getloadavg()
        vendor = connection.vendor
        if vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                vendor = f"PostgreSQL {cursor.fetchone()[0]}"
        else:
            vendor = "SQLite (WAL)"
    finally:
        for child in reversed(children):
            child.terminate()
            child.wait(15)
        if redis:
            redis.terminate()
            redis.wait(10)

    n = args.sockets
    socket_rows = [
        ["snapshot, rendered without the shared cache (server)", len(snapshot_times), *ms(snapshot_times), f"p95 ≤ {TARGETS['snapshot']} ms"],
        ["one socket: connect → snapshot (client)", 1, f"{one_daphne['one_snapshot_ms']:.1f} ms", "", "", ""],
        [f"{n} sockets at once: each connect → snapshot", n, *ms(one_daphne["connect_each"]), ""],
        ["`POST /api/jobs` (a canary)", len(one_daphne["jobs"]["posts"]), *ms(one_daphne["jobs"]["posts"]), f"p95 ≤ {TARGETS['post']} ms"],
        ["new job's row at 1 socket, from the POST", len(one_daphne["one"]["latencies"]), *ms(one_daphne["one"]["latencies"]), ""],
        [f"new job's row at {n} sockets, from the POST", len(one_daphne["jobs"]["latencies"]), *ms(one_daphne["jobs"]["latencies"]), f"p95 ≤ {TARGETS['push']} ms"],
        [f"baseline: bare publish to {n} sockets", len(one_daphne["bare"]["latencies"]), *ms(one_daphne["bare"]["latencies"]), ""],
        [f"two daphne processes, {n // 2} sockets each: new job's row, from the POST", len(two["latencies"]), *ms(two["latencies"]), f"p95 ≤ {TARGETS['push']} ms"],
    ]  # fmt: skip
    idle = one_daphne["idle"]
    print(f"\nScale — {args.jobs:,} jobs, {n} sockets, {vendor} — {machine()}")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}\n")
    print(table(["page (sequential GETs, no socket open)", "requests", "p50", "p95", "max", "target"], page_rows))
    print()
    print(table(["websocket", "samples", "p50", "p95", "max", "target"], socket_rows))
    print()
    print(table(
        ["measure", "figure", "target"],
        [
            [f"{n} sockets connected, each with its snapshot", f"{one_daphne['connect_s']:.1f} s", f"≤ {TARGETS['connect_s']} s"],
            [f"closed by the server in {idle['seconds']:.0f} s idle", f"{len(idle['closed'])} of {n} {sorted(set(idle['closed'])) or ''}", "0"],
            ["daphne CPU while idle", f"{idle['cpu_percent']:.1f} % of a core", f"≤ {TARGETS['cpu_percent']} %"],
            ["a push after the idle period reached", f"{idle['reached_after']} of {n}", f"{n}"],
            ["pushes lost (one daphne / two daphnes)", f"{one_daphne['jobs']['missed']} / {two['missed']}", "0"],
            *[[f"web process RSS {name}", f"{mib:.0f} MiB", f"≤ {TARGETS['rss_mib']} MiB" if name == "after a dashboard view" else ""] for name, mib in rss.items()],
        ],
    ))  # fmt: skip


if __name__ == "__main__":
    main()
