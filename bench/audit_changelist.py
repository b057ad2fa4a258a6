"""The auditors' changelist at millions of rows on PostgreSQL, against Django's default changelist.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chlops_bench python bench/audit_changelist.py --rows 5000000

The database is created if missing. Rows are generated in the database (INSERT ... SELECT
generate_series, in batches) over the last --days days, newest with the highest id, spread over
--actors users, 20 actions, 6 sources and 3 outcomes; their hash chain is not valid (the benchmark
does not verify it). A run reuses the rows of a previous run when the count matches (--fresh to
regenerate).

Both changelists are requested through Django's test Client, logged in as a member of Auditors, on
the same data in the same run, with the same list_display, filters, search and date_hierarchy:

- auditors': the project's AuditLogAdmin (capped count / pg_class estimate, index-hop filter
  choices, index-probe date hierarchy, the actor+action+created_at index).
- default: a plain ModelAdmin on a second admin site (full COUNT(*), default paginator, default
  filters whose choices come from SELECT DISTINCT, Django's date hierarchy).

The filtered page is one actor, one action and "Past 7 days" (what an auditor asks most); the
landing page is the changelist with no filter. Target: filtered p95 <= 300 ms at 5,000,000 rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import database_ensure, machine, migrate, percentile, setup_django, table  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/chlops_bench"
ACTIONS = [
    "auth.login", "auth.logout", "auth.login_failed", "job.start", "job.cancel", "job.retry", "job.failed",
    "admin.add", "admin.change", "admin.delete", "permission.denied", "token.create", "token.revoke",
    "upload.create", "export.download", "audit.export", "snapshot.create", "snapshot.restore", "alert.ack", "worker.pause",
]  # fmt: skip
SOURCES = ["web", "admin", "api", "cli", "cron", "system"]
TARGET_P95_MS = 300
BATCH = 500_000


def users_ensure(actors: int) -> tuple[object, list[tuple[int, str]]]:
    from django.contrib.auth.models import Group, User

    from operations.groups import groups_ensure

    groups_ensure()
    auditor, _ = User.objects.get_or_create(username="bench-auditor", defaults={"is_staff": True})
    auditor.groups.add(Group.objects.get(name="Auditors"))
    people = []
    for number in range(actors):
        user, _ = User.objects.get_or_create(username=f"bench-actor-{number:02d}", defaults={"is_staff": True})
        people.append((user.pk, user.username))
    return auditor, people


def populate(rows: int, days: int, people: list[tuple[int, str]], fresh: bool) -> None:
    """Fill audit_auditlog with `rows` generated rows, unless it already holds that many."""
    from django.db import connection

    from audit.triggers import triggers_drop, triggers_install

    with connection.cursor() as cursor:
        # Logins of earlier runs come after the generated rows; only the generated ones count.
        cursor.execute("SELECT count(*) FROM audit_auditlog WHERE id <= %s AND user_agent = 'bench/1.0'", [rows])
        have = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM audit_auditlog WHERE id > %s AND user_agent = 'bench/1.0'", [rows])
        if have == rows and not cursor.fetchone()[0] and not fresh:
            print(f"reusing the {have:,} rows already there")
            return
        started = time.perf_counter()
        triggers_drop(connection)  # the benchmark owns this database; TRUNCATE is refused otherwise
        cursor.execute("TRUNCATE audit_auditlog")
        triggers_install(connection)  # inserts are allowed with the triggers in place
        with indexes_lifted(cursor):
            ids = "ARRAY[" + ",".join(str(pk) for pk, _ in people) + "]::bigint[]"
            names = "ARRAY[" + ",".join(f"'{name}'" for _, name in people) + "]::text[]"
            actions = "ARRAY[" + ",".join(f"'{a}'" for a in ACTIONS) + "]::text[]"
            sources = "ARRAY[" + ",".join(f"'{s}'" for s in SOURCES) + "]::text[]"
            step_us = days * 86_400_000_000 // rows
            for low in range(1, rows + 1, BATCH):
                high = min(rows, low + BATCH - 1)
                cursor.execute(
                    f"""
                    INSERT INTO audit_auditlog (id, created_at, actor_id, actor_username, source, action, target, outcome,
                                                details, ip, user_agent, correlation_id, prev_hash, hash)
                    SELECT g,
                           now() - interval '{days} days' + (g * {step_us}) * interval '1 microsecond',
                           CASE WHEN r %% 10 = 0 THEN NULL ELSE ({ids})[1 + (r / 10) %% {len(people)}] END,
                           CASE WHEN r %% 10 = 0 THEN '' ELSE ({names})[1 + (r / 10) %% {len(people)}] END,
                           ({sources})[1 + (r / 1000) %% {len(SOURCES)}],
                           ({actions})[1 + (r / 10000) %% {len(ACTIONS)}],
                           'job #' || g,
                           CASE WHEN r %% 97 = 0 THEN 'denied' WHEN r %% 31 = 0 THEN 'failure' ELSE 'success' END,
                           jsonb_build_object('n', g, 'job_id', g %% 1000),
                           ('10.0.' || (g %% 250) || '.' || (1 + g %% 200))::inet,
                           'bench/1.0',
                           CASE WHEN g %% 3 = 0 THEN md5(g::text)::uuid END,
                           md5((g - 1)::text) || md5((g - 1)::text),
                           md5(g::text) || md5(g::text)
                    FROM (SELECT g, (hashint8(g)::bigint & 2147483647) AS r FROM generate_series(%s::bigint, %s::bigint) AS g) AS s
                    """,
                    [low, high],
                )
                print(f"  inserted {high:,} / {rows:,} rows ({time.perf_counter() - started:.0f} s)", flush=True)
        cursor.execute("VACUUM ANALYZE audit_auditlog")
    print(f"populated {rows:,} rows in {time.perf_counter() - started:.0f} s")


@contextmanager
def indexes_lifted(cursor) -> Iterator[None]:
    """Drop the secondary indexes for the bulk load and build each once afterwards: far faster."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'audit_auditlog'::regclass AND contype = 'u'"
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_auditlog' AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = 'audit_auditlog'::regclass)"
    )
    indexes = cursor.fetchall()
    for name, _ in constraints:
        cursor.execute(f"ALTER TABLE audit_auditlog DROP CONSTRAINT {name}")
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    try:
        yield
    finally:
        started = time.perf_counter()
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for name, definition in constraints:
            cursor.execute(f"ALTER TABLE audit_auditlog ADD CONSTRAINT {name} {definition}")
        for _, definition in indexes:
            cursor.execute(definition)
        print(f"  built {len(constraints) + len(indexes)} indexes in {time.perf_counter() - started:.0f} s", flush=True)


def baseline_urls() -> str:
    """Mount Django's default changelist for AuditLog on a second admin site, beside the real URLs."""
    from django.conf import settings
    from django.contrib import admin
    from django.urls import clear_url_caches, include, path

    from audit.models import AuditLog

    class DefaultAuditLogAdmin(admin.ModelAdmin):
        list_display = ("id", "created_at", "actor_username", "source", "action", "target", "outcome", "ip")
        list_filter = ("actor", "action", "source", "outcome", "created_at")
        date_hierarchy = "created_at"
        search_fields = ("actor_username", "action", "target")
        # Not the project's overrides of this model's templates: Django's own page.
        change_list_template = "admin/change_list.html"

    site = admin.AdminSite(name="default_admin")
    site.register(AuditLog, DefaultAuditLogAdmin)
    module = types.ModuleType("bench_audit_urls")
    module.urlpatterns = [path("default-admin/", site.urls), path("", include(settings.ROOT_URLCONF))]
    sys.modules[module.__name__] = module
    settings.ROOT_URLCONF = module.__name__
    clear_url_caches()
    return "/default-admin/audit/auditlog/"


def timed(client, url: str, requests: int, expect: str) -> list[float]:
    for _ in range(2):  # warm the connection and caches alike for both
        response = client.get(url)
        if response.status_code != 200 or expect not in response.content.decode():
            raise SystemExit(f"{url} answered {response.status_code} without the expected first row")
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per filtered page")
    parser.add_argument("--landing-requests", type=int, default=5, help="timed requests per unfiltered page")
    parser.add_argument("--actors", type=int, default=50)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--fresh", action="store_true", help="regenerate the rows even if the count matches")
    args = parser.parse_args()

    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(f"DATABASE_URL must point to PostgreSQL for this benchmark, not {url.split(':')[0]}")
    database_ensure(url)
    setup_django()
    migrate()

    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from audit.models import AuditLog

    auditor, people = users_ensure(args.actors)
    populate(args.rows, args.days, people, args.fresh)

    actor_id = people[0][0]
    action = "job.start"
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    since, until = today - timedelta(days=7), today + timedelta(days=1)
    # The exact parameters each changelist's own filters put in its links for "Past 7 days".
    ours = "/admin/audit/auditlog/?" + urlencode(
        {"actor": actor_id, "action": action, "created_at__gte": str(since), "created_at__lt": str(until)}
    )
    default_list = baseline_urls()
    default = f"{default_list}?" + urlencode(
        {
            "actor__id__exact": actor_id,
            "action__exact": action,
            "created_at__gte": str(since),
            "created_at__lt": str(until),
        }
    )
    matching = AuditLog.objects.filter(actor_id=actor_id, action=action, created_at__gte=since, created_at__lt=until)
    matched = matching.count()
    newest = matching.order_by("-created_at", "-id").values_list("id", flat=True).first()

    client = Client(SERVER_NAME="localhost")
    client.force_login(auditor)  # this writes an auth.login row: the newest of all
    newest_any = AuditLog.objects.order_by("-id").values_list("id", flat=True).first()
    pages = [
        ("auditors' changelist, filtered", ours, args.requests, newest),
        ("default ModelAdmin, filtered", default, args.requests, newest),
        ("auditors' changelist, unfiltered", "/admin/audit/auditlog/", args.landing_requests, newest_any),
        ("default ModelAdmin, unfiltered", default_list, args.landing_requests, newest_any),
    ]
    rows = []
    results = {}
    for name, page, requests, first_id in pages:
        times = timed(client, page, requests, f"/{first_id}/change/")
        results[name] = times
        rows.append(
            [
                name,
                requests,
                f"{percentile(times, 50):.0f} ms",
                f"{percentile(times, 95):.0f} ms",
                f"{max(times):.0f} ms",
            ]
        )
        print(f"  {name}: done", flush=True)

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('audit_auditlog'))")
        size = cursor.fetchone()[0]
    print()
    print(f"machine: {machine()}; PostgreSQL {pg_version}")
    print(
        f"rows: {args.rows:,} over {args.days} days ({size} with indexes); {args.actors} actors, {len(ACTIONS)} actions"
    )
    print(f"filter: actor #{actor_id}, action {action}, past 7 days -> {matched:,} rows")
    print()
    print(table(["page", "requests", "p50", "p95", "max"], rows))
    p95 = percentile(results["auditors' changelist, filtered"], 95)
    verdict = "met" if p95 <= TARGET_P95_MS else "missed"
    print(f"\ntarget: filtered p95 <= {TARGET_P95_MS} ms -> {verdict} ({p95:.0f} ms)")


if __name__ == "__main__":
    main()
