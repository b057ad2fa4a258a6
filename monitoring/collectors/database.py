"""Time every database query through an execute wrapper installed on each new connection.

The wrapper adds one perf_counter pair and the recorder's in-memory tally to a query; a query slower
than CHLOPS_SLOW_QUERY_MS also leaves a note in the slow query log: its SQL with every value taken out
(parameters are never read), how long it took, and where it came from (the view's URL name or the
job type), all sent by the recorder's flusher thread, never on the query's path.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper

from audit.context import current_request
from monitoring.metrics import RECORDER, series
from operations.observers import current_work

SQL_LIMIT = 2000  # characters of a normalised statement kept in the log
LITERALS = re.compile(
    r"""'(?:[^']|'')*'"""  # a string literal ('it''s' included)
    r"""|\$(\w*)\$.*?\$\1\$"""  # PostgreSQL's dollar quoting
    r"""|\b[xX]'[0-9a-fA-F]*'"""  # a blob literal
    r"""|(?<![\w."])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b""",  # a number that is not part of a name
    re.DOTALL,
)
PLACEHOLDERS = re.compile(r"%s|%\(\w+\)s")
IN_LISTS = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
SPACES = re.compile(r"\s+")


def normalise(sql: str) -> str:
    """The statement's shape: every literal and placeholder becomes ?, an IN list one (?…), spaces one."""
    text = LITERALS.sub("?", sql)
    text = PLACEHOLDERS.sub("?", text)
    text = IN_LISTS.sub("(?…)", text)
    return SPACES.sub(" ", text).strip()[:SQL_LIMIT]


def origin() -> str:
    """Where the running query came from: the view's URL name, the job type, or the process."""
    work = current_work.get()
    if work:
        return work
    request = current_request.get()
    if request is not None:
        match = getattr(request, "resolver_match", None)
        return f"view:{match.view_name}" if match is not None and match.view_name else "request"
    return "other"


class QueryTimer:
    """An execute wrapper (connection.execute_wrappers): time the query, count it, note it when slow."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def __call__(self, execute, sql: str, params: Any, many: bool, context: dict) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        except OperationalError as exc:
            if "database is locked" in str(exc):
                RECORDER.count(series.DB_LOCKED)
            raise
        finally:
            seconds = time.perf_counter() - started
            RECORDER.observe(series.QUERY, self.alias, (), seconds)
            if seconds * 1000 >= settings.CHLOPS_SLOW_QUERY_MS:
                slow_query_noted(sql, seconds, many=many)


def slow_query_noted(sql: str, seconds: float, *, many: bool) -> None:
    RECORDER.count(series.SLOW_QUERIES)
    RECORDER.note(
        series.SLOW_QUERY_LOG,
        {
            "sql": normalise(sql),
            "ms": round(seconds * 1000, 2),
            "origin": origin(),
            "many": many,
            "at": datetime.now(tz=UTC).isoformat(timespec="milliseconds"),
        },
    )


def connection_instrument(sender: Any = None, connection: BaseDatabaseWrapper | None = None, **_: Any) -> None:
    """connection_created's receiver: wrap every query of the new connection (once)."""
    if connection is None or not settings.CHLOPS_METRICS:
        return
    if not any(isinstance(wrapper, QueryTimer) for wrapper in connection.execute_wrappers):
        connection.execute_wrappers.append(QueryTimer(connection.alias))
