"""The database monitor: the execute wrapper, the slow query log (never a value), the catalog's tables,
/api/monitoring/database and db/pool, /metrics, the database module's check and the card."""

from __future__ import annotations

import re
import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from health_check.exceptions import ServiceWarning
from prometheus_client.parser import text_string_to_metric_families

from chlops.redis_clients import redis_client
from monitoring import prometheus
from monitoring.collectors.database import QueryTimer, normalise
from monitoring.health.infrastructure import QueriesFast
from monitoring.metrics import RECORDER, clock, series
from monitoring.status import database
from operations.tokens import token_create
from tests.sessions import browser_login

pytestmark = pytest.mark.django_db

SECRET = "hunter2-s3cr3t-value"
# Slow on SQLite and PostgreSQL alike: count a few hundred thousand rows made on the fly.
SLOW_SQL = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) "
    "SELECT count(*) FROM c WHERE %s <> 'hunter2-literal-42' AND x > 7"
)


def bearer(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user, name='test', source='cli')[1]}")


@pytest.fixture
def fresh_log():
    redis_client().delete(series.SLOW_QUERY_LOG.key)
    RECORDER.flush()
    yield
    redis_client().delete(series.SLOW_QUERY_LOG.key)


class NormaliseTests:
    def test_literals_placeholders_and_in_lists_become_question_marks(self):
        sql = "SELECT \"a\".\"id\" FROM t1 WHERE name = 'it''s' AND n IN (%s, %s, %s) AND x > 42 AND y = %s"
        assert normalise(sql) == 'SELECT "a"."id" FROM t1 WHERE name = ? AND n IN (?…) AND x > ? AND y = ?'

    def test_dollar_quotes_and_blobs_go_too(self):
        assert normalise("SELECT $tag$secret$tag$, X'DEADBEEF', 1.5e3") == "SELECT ?, ?, ?"


class WrapperTests:
    def test_every_connection_carries_one_timer(self):
        connection.ensure_connection()
        assert sum(isinstance(w, QueryTimer) for w in connection.execute_wrappers) == 1

    def test_a_slow_query_is_logged_without_any_value(self, settings, fresh_log):
        settings.CHLOPS_SLOW_QUERY_MS = 1
        with connection.cursor() as cursor:
            cursor.execute(SLOW_SQL, [SECRET])
        RECORDER.flush()
        raw = b"".join(redis_client().lrange(series.SLOW_QUERY_LOG.key, 0, -1)).decode()
        assert SECRET not in raw and "hunter2" not in raw and "300000" not in raw
        entry = next(e for e in database.slow_query_log() if "WITH RECURSIVE" in e["sql"])
        assert entry["sql"].endswith("WHERE ? <> ? AND x > ?")
        assert entry["ms"] >= 1 and entry["at"] and entry["origin"] == "other"

    def test_the_log_keeps_the_last_hundred(self, settings, fresh_log):
        settings.CHLOPS_SLOW_QUERY_MS = 0
        with connection.cursor() as cursor:
            for n in range(130):
                cursor.execute("SELECT %s", [n])
        RECORDER.flush()
        assert redis_client().llen(series.SLOW_QUERY_LOG.key) == 100

    def test_a_slow_query_of_a_view_names_the_view(self, operator, settings, fresh_log):
        client = bearer(operator)
        settings.CHLOPS_SLOW_QUERY_MS = 0
        assert client.get("/api/monitoring/db/pool").status_code == 200
        settings.CHLOPS_SLOW_QUERY_MS = 100
        RECORDER.flush()
        assert "view:api-monitoring-db-pool" in {e["origin"] for e in database.slow_query_log()}

    def test_queries_are_counted_in_the_store_and_in_metrics(self, settings, fresh_log):
        settings.CHLOPS_SLOW_QUERY_MS = 1
        with connection.cursor() as cursor:
            cursor.execute(SLOW_SQL, [SECRET])
        RECORDER.flush()
        found = {f.name: f for f in text_string_to_metric_families(prometheus.metrics_text().decode())}
        assert found["chlops_db_query_duration_seconds"].samples
        slow = [s for s in found["chlops_db_slow_queries"].samples if s.name.endswith("_total")]
        assert slow and slow[0].value >= 1
        queries = database.query_performance("1h")
        assert queries["count"] >= 1 and queries["slow_count"] >= 1 and queries["slowest_ms"] >= 1


class TablesTests:
    def test_sizes_and_rows_come_from_the_catalog_never_a_count(self, operator):
        with CaptureQueriesContext(connection) as captured:
            tables = database.table_sizes()
        assert not [q["sql"] for q in captured.captured_queries if "count(" in q["sql"].lower()]
        names = {row["table"] for row in tables}
        assert {"audit_auditlog", "operations_job", "auth_user"} <= names
        users = next(row for row in tables if row["table"] == "auth_user")
        assert users["rows"] is not None and users["bytes"] is not None


BIG_ROWS = 100_000  # a million is bench/monitoring_infra.py's; this many makes the point in well under 2 s


def big_table_seeded(rows: int) -> None:
    """Fill django_session (three columns, one index) with `rows` rows in one INSERT…SELECT, and let
    PostgreSQL's catalog know (ANALYZE; inside the test's transaction, so it goes with it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO django_session (session_key, session_data, expire_date)"
            " WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %s)"
            " SELECT 'h10big' || x, '', CURRENT_TIMESTAMP FROM c",
            [rows],
        )
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE django_session")


class BigTableTests:
    def test_the_card_renders_a_big_tables_rows_from_the_catalog_without_counting(self, auditor):
        big_table_seeded(BIG_ROWS)
        client = browser_login(auditor)
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/admin/ops/partials/card/database-card/")
        assert response.status_code == 200
        sqls = [q["sql"].lower() for q in captured.captured_queries]
        assert not [sql for sql in sqls if "count(" in sql and "pg_stat_activity" not in sql]  # the pool's count only
        html = response.content.decode()
        shown = re.search(r'<tr data-table="django_session"><th scope="row">django_session</th><td>(\d+)</td>', html)
        assert shown and int(shown.group(1)) >= BIG_ROWS * 0.9  # PostgreSQL's is ANALYZE's estimate


class ApiTests:
    def test_the_database_answers_engine_pool_queries_log_and_tables(self, auditor):
        body = bearer(auditor).get("/api/monitoring/database?range=6h").json()
        assert body["engine"] == connection.vendor and body["version"]
        assert {"count", "average_ms", "slow_count", "slowest_ms", "slow_threshold_ms"} <= set(body["queries"])
        assert body["queries"]["range"] == "6h"
        assert isinstance(body["slow_queries"], list) and body["tables"]

    def test_the_pool_says_what_the_engine_has(self, operator):
        pool = bearer(operator).get("/api/monitoring/db/pool").json()
        if connection.vendor == "postgresql":
            assert pool["pooled"] is True
            assert pool["active"] >= 1 and pool["max_connections"] > 0
            assert 0 < pool["utilization_percent"] <= 100
        else:
            assert pool["pooled"] is False and "no connection pool" in pool["note"]
            assert pool["wal_bytes"] >= 0 and "database is locked" in pool["busy_note"]

    def test_unknown_parameters_and_ranges_are_400_with_a_sentence(self, operator):
        client = bearer(operator)
        response = client.get("/api/monitoring/database?rnage=1h")
        assert response.status_code == 400
        assert response.json() == {"error": "Unknown parameter 'rnage'; it takes: range."}
        assert client.get("/api/monitoring/database?range=2y").status_code == 400
        assert client.get("/api/monitoring/db/pool?x=1").json() == {"error": "Unknown parameter 'x'; it takes none."}

    def test_who_may_see_it(self, plain_staff):
        assert bearer(plain_staff).get("/api/monitoring/database").status_code == 403
        assert Client().get("/api/monitoring/db/pool").status_code == 401


class HealthTests:
    def test_many_slow_queries_degrade_the_database_module(self):
        clock.clock_set(time.time() + 30 * 86400)  # minutes no other test counted queries in
        try:
            for _ in range(60):
                RECORDER.observe(series.QUERY, "default", (), 0.5)
            RECORDER.flush()
            with pytest.raises(ServiceWarning, match=r"60 of the last 6\d queries took longer than 100 ms"):
                QueriesFast().run()
        finally:
            clock.clock_reset()


class CardTests:
    def test_the_monitoring_page_shows_the_database_card(self, operator):
        html = browser_login(operator).get("/admin/ops/monitoring/").content.decode()
        assert '<section id="database-card"' in html
        assert f'data-engine="{connection.vendor}"' in html
        assert 'data-table="audit_auditlog"' in html

    def test_its_partial_answers_for_polling(self, auditor):
        response = browser_login(auditor).get("/admin/ops/partials/card/database-card/")
        assert response.status_code == 200
        assert 'id="database-card"' in response.content.decode()
