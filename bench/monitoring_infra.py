"""The infrastructure monitors' costs (issue 10), each against the uninstrumented path in the same run.

    python bench/monitoring_infra.py [--rounds 7] [--queries 5000] [--reads 5000] [--rows 1000000] [--only PART,…]

1. db     — the execute wrapper (monitoring.collectors.database.QueryTimer) on the connection against the
            same connection without it, in alternating rounds: `SELECT 1` through a cursor (the worst
            case: the cheapest query there is) and a primary-key ORM lookup (a typical query).
2. cache  — the configured InstrumentedRedisCache against Django's plain RedisCache on the same Redis,
            in alternating rounds: get (hit), get (miss) and get_many of 10 keys.
3. card   — the Database card with a table of --rows rows (django_session, filled by one INSERT…SELECT
            over a recursive CTE): its partial as an operator's page polls it, and the table sizes
            alone, against the COUNT(*) the card never runs.

Targets: each overhead ≤ 5 %; the card well under a second. db and cache run both sides in turns of
100 calls and give the median of each side's batch means (the machine is shared: its load changes
within a round); the card gives p50/p95 of single renders.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import database_ensure, machine, migrate, percentile, setup_django, start_redis, table  # noqa: E402

if os.environ.get("DATABASE_URL", "").startswith("postgres"):
    database_ensure(os.environ["DATABASE_URL"])
OWN_DATA_DIR = not os.environ.get("CHLOPS_DATA_DIR")  # a fresh one is removed at the end (the big table is large)
DATA_DIR = setup_django()
REDIS = start_redis()
migrate()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.cache import caches  # noqa: E402
from django.core.cache.backends.redis import RedisCache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from monitoring.collectors.cache import InstrumentedRedisCache  # noqa: E402
from monitoring.collectors.database import QueryTimer  # noqa: E402
from monitoring.status import database  # noqa: E402
from operations.groups import groups_ensure  # noqa: E402

PARTS = ("db", "cache", "card")


def compared(
    base: Callable[[], None],
    instrumented: Callable[[], None],
    *,
    calls: int,
    batch: int = 100,
    switch: Callable[[bool], None] = lambda on: None,
) -> tuple[float, float]:
    """Seconds per call of each side: `calls` calls of each in batches of `batch`, the sides taking turns
    (ABBA), and the median of each side's batch means, so that the shared machine's changing load falls
    on both alike. `switch(on)` readies a side before its batch, outside the timing."""
    found: dict[bool, list[float]] = {False: [], True: []}
    sides = {False: base, True: instrumented}
    for on in (False, True):  # warm both
        switch(on)
        for _ in range(batch * 5):
            sides[on]()
    for b in range(calls // batch):
        for on in (False, True) if b % 2 == 0 else (True, False):
            switch(on)
            call = sides[on]
            started = time.perf_counter()
            for _ in range(batch):
                call()
            found[on].append((time.perf_counter() - started) / batch)
    switch(True)
    return statistics.median(found[False]), statistics.median(found[True])


def overhead_row(what: str, base: float, instrumented: float) -> list[object]:
    added = instrumented - base
    return [
        what,
        f"{base * 1e6:.1f} µs",
        f"{instrumented * 1e6:.1f} µs",
        f"{added * 1e6:+.1f} µs ({added / base * 100:+.1f} %)",
    ]


class Wrapper:
    """Take the connection's QueryTimer off and put it back, so both paths run on one connection."""

    def __init__(self) -> None:
        connection.ensure_connection()
        self.timer = next(w for w in connection.execute_wrappers if isinstance(w, QueryTimer))

    def off(self) -> None:
        connection.execute_wrappers.remove(self.timer)

    def on(self) -> None:
        connection.execute_wrappers.append(self.timer)

    def switch(self, on: bool) -> None:
        installed = self.timer in connection.execute_wrappers
        if on and not installed:
            self.on()
        elif not on and installed:
            self.off()


def bench_db(queries: int, rounds: int) -> tuple[list[list[object]], str]:
    wrapper = Wrapper()
    user = User.objects.create_user("bench-db")
    cursor = connection.cursor()

    def select_one() -> None:
        cursor.execute("SELECT 1")
        cursor.fetchone()

    def lookup() -> None:
        User.objects.filter(pk=user.pk).first()

    def execute(sql, params, many, context) -> None:
        return None

    timer = QueryTimer("default")
    alone = compared(
        lambda: execute("SELECT 1", None, False, {}),
        lambda: timer(execute, "SELECT 1", None, False, {}),
        calls=queries * rounds,
    )
    rows = [overhead_row("the wrapper alone, around an execute that does nothing", *alone)]
    for what, call in (("`SELECT 1` through a cursor", select_one), ("ORM lookup by primary key", lookup)):
        found = compared(call, call, calls=queries * rounds, switch=wrapper.switch)
        rows.append(overhead_row(what, *found))
    cursor.close()
    own = alone[1] - alone[0]
    note = (
        f"The wrapper's own cost, {own * 1e6:.1f} µs a query, is {own / found[0] * 100:.1f} % of the ORM lookup "
        "without it: the end-to-end rows differ by that plus the machine's noise."
    )
    return rows, note


class NoRedis:
    """A Redis client that answers at once: what is left of a read is Django's and the counting's Python."""

    def get(self, key: str, default: object) -> object:
        return default if "none" in key else "x"

    def get_many(self, keys) -> dict:
        return dict.fromkeys(keys, "x")


def bench_cache(reads: int, rounds: int) -> tuple[list[list[object]], str]:
    counted = caches["default"]
    assert isinstance(counted, InstrumentedRedisCache), "the configured cache is not the instrumented one"
    params = settings.CACHES["default"]
    options = {k: v for k, v in params.items() if k not in ("BACKEND", "LOCATION")}
    plain = RedisCache(params["LOCATION"], options)
    keys = [f"bench:{i}" for i in range(10)]
    counted.set_many(dict.fromkeys(keys, "x" * 100))
    plain_python, counted_python = (type(c)(params["LOCATION"], options) for c in (plain, counted))
    for cache in (plain_python, counted_python):
        cache.__dict__["_cache"] = NoRedis()  # RedisCache._cache is a cached_property
    reads_of = (
        ("get, a hit", lambda c: c.get("bench:1")),
        ("get, a miss", lambda c: c.get("bench:none")),
        ("get_many, 10 hits", lambda c: c.get_many(keys)),
    )
    rows, found = [], {}
    for (plain_one, counted_one), where in (
        ((plain_python, counted_python), ", no Redis (the Python alone)"),
        ((plain, counted), ""),
    ):
        for what, call in reads_of:
            pair = (lambda call=call, c=plain_one: call(c), lambda call=call, c=counted_one: call(c))
            found[what + where] = compared(*pair, calls=reads * rounds)
            rows.append(overhead_row(what + where, *found[what + where]))
    counted.delete_many(keys)
    shares = ", ".join(
        f"{what} {(found[what + ', no Redis (the Python alone)'][1] - found[what + ', no Redis (the Python alone)'][0]) / found[what][0] * 100:.1f} %"
        for what, _ in reads_of
    )
    note = f"The counting's own cost (the Python alone) as a share of the real read without it: {shares}."
    return rows, note


def big_table(rows: int) -> float:
    """Fill django_session up to `rows` rows by one INSERT…SELECT; return the seconds it took (0 if full)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_session WHERE session_key LIKE 'bench%%'")
        if cursor.fetchone()[0] >= rows:
            return 0.0
        started = time.perf_counter()
        cursor.execute(
            "INSERT INTO django_session (session_key, session_data, expire_date)"
            " WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %s)"
            " SELECT 'bench' || x, 'a session of the benchmark', CURRENT_TIMESTAMP FROM c",
            [rows],
        )
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE django_session")  # what autovacuum does after a bulk load
        return time.perf_counter() - started


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    call()  # warm
    found = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        found.append(time.perf_counter() - started)
    return found


def bench_card(rows: int, repeat: int = 20) -> tuple[list[list[object]], str]:
    seeded = big_table(rows)
    groups_ensure()
    user, _ = User.objects.get_or_create(username="bench-card", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name="Operators"))
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)

    def card() -> None:
        response = client.get("/admin/ops/partials/card/database-card/")
        assert response.status_code == 200 and b'data-table="django_session"' in response.content

    def count() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM django_session")
            cursor.fetchone()

    shown = next(t for t in database.table_sizes() if t["table"] == "django_session")
    found = []
    for what, call, target in (
        ("the Database card's partial (HTTP, an operator)", card, "well under 1 s"),
        ("its table sizes alone (catalog)", database.table_sizes, ""),
        ("baseline: SELECT count(*) FROM django_session", count, "never run by the card"),
    ):
        values = timed(call, repeat)
        found.append(
            [what, f"{percentile(values, 50) * 1000:.1f} ms", f"{percentile(values, 95) * 1000:.1f} ms", target]
        )
    note = (
        f"{connection.vendor}: django_session has {rows:,} rows (seeded in {seeded:.1f} s by one INSERT…SELECT"
        f"{'' if seeded else ', from an earlier run'}); the card shows {shown['rows']:,} rows and "
        f"{shown['bytes'] or 0:,} bytes for it. {repeat} renders each."
    )
    return found, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds",
        type=int,
        default=7,
        help="rounds of --queries or --reads per side (db, cache), run in turns of 100 calls",
    )
    parser.add_argument("--queries", type=int, default=5000, help="queries per round (db)")
    parser.add_argument("--reads", type=int, default=5000, help="cache reads per round (cache)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the big table (card)")
    parser.add_argument("--only", default="", help=f"comma-separated parts to run: {','.join(PARTS)}")
    args = parser.parse_args()
    chosen = set(filter(None, args.only.split(","))) or set(PARTS)
    if unknown := chosen - set(PARTS):
        parser.error(f"unknown part {', '.join(sorted(unknown))}: the parts are {', '.join(PARTS)}")
    print(f"Machine: {machine()}; {connection.vendor}; load average {os.getloadavg()[0]:.2f} at start")
    try:
        if "db" in chosen:
            print(
                f"\nDB execute wrapper: {args.rounds * args.queries:,} queries a side in turns of 100, one connection"
            )
            rows, note = bench_db(args.queries, args.rounds)
            print(table(["query", "without the wrapper", "with it", "added (target ≤ 5 %)"], rows))
            print(note)
        if "cache" in chosen:
            print(f"\nCache counters: {args.rounds * args.reads:,} reads a side in turns of 100, one Redis")
            rows, note = bench_cache(args.reads, args.rounds)
            print(table(["read", "plain RedisCache", "InstrumentedRedisCache", "added (target ≤ 5 %)"], rows))
            print(note)
        if "card" in chosen:
            rows, note = bench_card(args.rows)
            print(f"\nDatabase card with {args.rows:,} rows in one table")
            print(table(["what", "p50", "p95", "target"], rows))
            print(note)
    finally:
        print(f"\nLoad average {os.getloadavg()[0]:.2f} at the end")
        if REDIS:
            REDIS.terminate()
            REDIS.wait(10)
        if OWN_DATA_DIR:
            connection.close()
            shutil.rmtree(DATA_DIR, ignore_errors=True)


if __name__ == "__main__":
    main()
