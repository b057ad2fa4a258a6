"""The database as the Database card and /api/monitoring/database show it.

Table sizes and row counts come from the catalog, never from COUNT(*) (the audit table may hold
millions of rows): pg_class and pg_total_relation_size on PostgreSQL; on SQLite the dbstat table
(sizes) and sqlite_stat1 when ANALYZE has run, else the largest rowid (an estimate: deleted rows
below it are counted too).
"""

from __future__ import annotations

import json
import os
from typing import Any

import redis
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection

from chlops.redis_clients import redis_client
from monitoring.metrics import clock, reading, series
from monitoring.metrics.ranges import RANGES, UNAVAILABLE, MetricsUnavailable
from monitoring.metrics.sketch import bin_value

SQLITE_POOL = "SQLite has no connection pool: each process and thread opens the database file itself."
SQLITE_BUSY = (
    "Busy waits counted are queries that failed with \u201cdatabase is locked\u201d once the busy timeout "
    "({timeout} s) ran out; waits that ended in time happen inside SQLite and are not counted."
)


def database_overview(range_name: str) -> dict[str, Any]:
    """Engine, version, pool, query performance over the range, the slow query log and the tables
    (MetricsUnavailable when Redis does not answer)."""
    return {
        "engine": connection.vendor,
        "version": engine_version(),
        "pool": pool_status(),
        "queries": query_performance(range_name),
        "slow_queries": slow_query_log(),
        "tables": table_sizes(),
    }


def engine_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_version()" if connection.vendor == "sqlite" else "SHOW server_version")
        return str(cursor.fetchone()[0])


def pool_status() -> dict[str, Any]:
    """PostgreSQL: connections by state against max_connections; SQLite: no pool, the WAL and busy waits."""
    found = _pg_pool() if connection.vendor == "postgresql" else _sqlite_pool()
    return {"engine": connection.vendor, **found}


def _pg_pool() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE state = 'active'), count(*) FILTER (WHERE state = 'idle'),"
            " count(*) FILTER (WHERE state LIKE 'idle in transaction%%'), count(*),"
            " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),"
            " current_setting('max_connections')::int"
            " FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'"
        )
        active, idle, in_transaction, here, everyone, most = cursor.fetchone()
    return {
        "pooled": True,
        "active": active,
        "idle": idle,
        "idle_in_transaction": in_transaction,
        "this_database": here,
        "connections": everyone,
        "max_connections": most,
        "utilization_percent": round(100 * everyone / most, 1) if most else None,
        "note": "",
    }


def _sqlite_pool() -> dict[str, Any]:
    name = str(connection.settings_dict["NAME"])
    try:
        wal = os.path.getsize(f"{name}-wal")
    except OSError:
        wal = 0
    try:
        busy = reading.counters().get((series.DB_LOCKED.name, ""), 0)
    except redis.RedisError:
        busy = None
    timeout = connection.settings_dict.get("OPTIONS", {}).get("timeout", 5)
    return {
        "pooled": False,
        "note": SQLITE_POOL,
        "wal_bytes": wal,
        "busy_waits": busy,
        "busy_note": SQLITE_BUSY.format(timeout=timeout),
    }


def query_performance(range_name: str) -> dict[str, Any]:
    """Average query time, how many were slower than CHLOPS_SLOW_QUERY_MS and the slowest, over the range."""
    seconds, _, width = RANGES[range_name]
    until = clock.now()
    try:
        found = reading.merged_many(
            series.QUERY.name, settings.DATABASES, since=until - seconds, until=until + 1, width=width
        )
    except redis.RedisError:
        raise MetricsUnavailable(UNAVAILABLE) from None
    total = reading.merged(found.values())
    sketch = total.sketch
    threshold = settings.CHLOPS_SLOW_QUERY_MS / 1000
    return {
        "range": range_name,
        "count": sketch.count,
        "average_ms": round(sketch.mean * 1000, 3) if sketch.mean is not None else None,
        "p95_ms": _ms(sketch.quantile(0.95)),
        "slow_threshold_ms": settings.CHLOPS_SLOW_QUERY_MS,
        "slow_count": sum(n for index, n in sketch.bins.items() if bin_value(index) >= threshold),
        "slowest_ms": _ms(bin_value(max(sketch.bins))) if sketch.bins else None,
    }


def slow_query_log() -> list[dict[str, Any]]:
    """The last 100 slow queries, newest first (SQL without its values, ms, origin, when)."""
    try:
        raw = redis_client(timeout=reading.READ_TIMEOUT).lrange(
            series.SLOW_QUERY_LOG.key, 0, series.SLOW_QUERY_LOG.keep - 1
        )
    except redis.RedisError:
        return []
    entries = []
    for item in raw:
        try:
            entries.append(json.loads(item))
        except ValueError:
            continue
    return entries


def product_tables() -> list[str]:
    """The tables of every model Django manages here (the product's, and those of the apps it runs on)."""
    return sorted({model._meta.db_table for model in apps.get_models(include_auto_created=True) if model._meta.managed})


def table_sizes() -> list[dict[str, Any]]:
    """Each product table's rows and bytes from the catalog, largest first."""
    tables = product_tables()
    try:
        rows = _pg_tables(tables) if connection.vendor == "postgresql" else _sqlite_tables(tables)
    except DatabaseError:
        return []
    return sorted(rows, key=lambda row: (-(row["bytes"] or 0), row["table"]))


def _pg_tables(tables: list[str]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, COALESCE(NULLIF(c.reltuples, -1)::bigint, s.n_live_tup), pg_total_relation_size(c.oid)"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
            " WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() AND c.relname = ANY(%s)",
            [tables],
        )
        return [
            {"table": name, "rows": rows, "bytes": size, "rows_estimated": True}
            for name, rows, size in cursor.fetchall()
        ]


def _sqlite_tables(tables: list[str]) -> list[dict[str, Any]]:
    wanted = set(tables)
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')")
        owner = {name: table for name, table in cursor.fetchall() if table in wanted}
        sizes: dict[str, int | None] = dict.fromkeys(wanted & set(owner.values()), 0)
        try:
            cursor.execute("SELECT name, pgsize FROM dbstat WHERE aggregate = TRUE")
        except DatabaseError:  # an SQLite built without dbstat: rows only
            sizes = dict.fromkeys(sizes)
        else:
            for name, size in cursor.fetchall():
                if name in owner:
                    sizes[owner[name]] += size
        analysed = _sqlite_stat1(cursor)
        found = []
        for table in sorted(sizes):
            rows = analysed.get(table)
            if rows is None:
                cursor.execute(
                    f"SELECT max(rowid) FROM {connection.ops.quote_name(table)}"
                )  # a b-tree's last key, not a count
                rows = cursor.fetchone()[0] or 0
            found.append({"table": table, "rows": rows, "bytes": sizes[table], "rows_estimated": True})
        return found


def _sqlite_stat1(cursor) -> dict[str, int]:
    cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
    if cursor.fetchone() is None:
        return {}
    cursor.execute("SELECT tbl, stat FROM sqlite_stat1")
    return {table: int(str(stat).split()[0]) for table, stat in cursor.fetchall() if str(stat).split()[0].isdigit()}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)
