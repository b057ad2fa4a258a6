"""The series the store keeps, each named from a closed set, and where they live in Redis.

Nothing a user sends becomes part of a name: a key or label outside its set is counted as "other",
so the number of series, and the memory they take, is bounded by construction.

Layout (every time bucket's keys expire by themselves, at an absolute time from the store's clock):

    chlops:metrics:1m:<minute>:<family>:<key>     hash n, e, s (µs), <bin> → count     8 hours
    chlops:metrics:10m:<10 minutes>:http:_all     the same, ten minutes at a time           8 days
    chlops:metrics:1h:<hour>:<family>:<key>       the same, an hour at a time                 8 days
    chlops:metrics:1m:<minute>:modules            hash <module>|<family>|n|e|s              25 hours
    chlops:metrics:10m:<10 minutes>:modules       the same                                  8 days
    chlops:metrics:total:<family>                 hash <labels>|n|s|<le index> → count      never
    chlops:metrics:total:counters                 hash <counter>|<labels> → count           never

Ten-minute roll-ups are kept of what a day's chart draws: every request together (`http:_all`) and
the modules' numbers; every series is rolled up by the hour, which is what a week's chart and the
per-module table read (169 buckets a series, not 1,008). A week of every series takes about 20 MB.

Per module, family and minute, `n`, `e` and `s` count what happened (requests, jobs, searches,
embedding batches, health checks), how much of it failed and its summed duration: the module cards'
error counts, trends and anomalies read these. The anomaly baseline reads 24 hours of them, which is
why they are kept longer than the per-series minutes (a few numbers per module: kilobytes an hour).
Every request is the web's work; the per-module split of requests is in the `http` series.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from django.conf import settings

from indexes.embedders import EMBEDDERS
from operations import registry

MODULES = (
    "web",
    "database",
    "broker",
    "event_bus",
    "cache",
    "workers",
    "scheduler",
    "jobs",
    "ingestion",
    "embeddings",
    "index",
    "search",
    "audit",
)
CRITICAL = ("web", "database", "broker", "workers")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")  # Django's views never answer 1xx
JOB_OUTCOMES = ("succeeded", "failed", "cancelled")
OUTCOMES = ("ok", "invalid", "error")
CHECK_STATUSES = ("healthy", "degraded", "down")
SEARCH_MODES = ("dense", "sparse", "hybrid")
OTHER = "other"
ALL = "_all"  # the merged series of a family whose keys are also kept apart

# The histogram buckets /metrics exposes (seconds): for a request, a search, a check or a batch; for a job.
LE = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LE_JOBS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)

PREFIX = "chlops:metrics"
MINUTE = 60
TEN_MINUTES = 600
HOUR = 3600  # roll-ups of series only: a week's table reads 169 of them, not 1,008
WIDTHS = {MINUTE: "1m", TEN_MINUTES: "10m", HOUR: "1h"}
MINUTE_KEEP = 8 * 3600
MODULE_MINUTE_KEEP = 25 * 3600
ROLLUP_KEEP = 8 * 86400


@dataclass(frozen=True)
class Family:
    """A latency histogram per key (module, job type…) with further labels for /metrics only."""

    name: str
    metric: str
    help: str
    key_label: str
    keys: Callable[[], Collection[str]]
    labels: tuple[tuple[str, tuple[str, ...]], ...]
    module: Callable[[str], str]  # the module whose numbers a key's counts are part of
    words: str = ""  # what one count is, in a sentence: "requests", "jobs"…
    merged: bool = False
    le: tuple[float, ...] = LE  # the buckets /metrics exposes  # also keep the series of all its keys together (ALL)

    def key_of(self, key: str) -> str:
        return key if key in self.keys() else OTHER

    def labels_of(self, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v if v in allowed else OTHER for v, (_, allowed) in zip(values, self.labels, strict=True))


def job_types() -> list[str]:
    return [job_type.name for job_type in registry.all_types()]


def job_module(name: str) -> str:
    try:
        return registry.get(name).module
    except registry.UnknownJobType:
        return "jobs"


HTTP = Family(
    name="http",
    metric="chlops_http_request_duration_seconds",
    help="Time to answer an HTTP request, by the module it belongs to, its method and status class.",
    key_label="module",
    keys=lambda: MODULES,
    labels=(("method", METHODS), ("status_class", STATUS_CLASSES)),
    module=lambda key: "web",  # the web tier answers every request, whichever module it is about
    words="requests",
    merged=True,
)
JOB = Family(
    name="job",
    metric="chlops_job_duration_seconds",
    help="Time a job ran, from its start to its end, by type and outcome.",
    key_label="type",
    keys=job_types,
    labels=(("outcome", JOB_OUTCOMES),),
    module=job_module,
    words="jobs",
    le=LE_JOBS,
)
SEARCH = Family(
    name="search",
    metric="chlops_search_duration_seconds",
    help="Time to answer a search, by mode and outcome (invalid: the query was refused).",
    key_label="mode",
    keys=lambda: SEARCH_MODES,
    labels=(("outcome", OUTCOMES),),
    module=lambda key: "search",
    words="searches",
)
EMBED = Family(
    name="embed",
    metric="chlops_embedding_duration_seconds",
    help="Inference time of one embedding batch, by embedder and outcome.",
    key_label="embedder",
    keys=lambda: EMBEDDERS,
    labels=(("outcome", OUTCOMES),),
    module=lambda key: "embeddings",
    words="embedding batches",
)
CHECK = Family(
    name="check",
    metric="chlops_health_check_duration_seconds",
    help="Time a module's health check took, by module and the status it found.",
    key_label="module",
    keys=lambda: MODULES,
    labels=(("status", CHECK_STATUSES),),
    module=lambda key: key if key in MODULES else "web",
    words="health checks",
)
QUERY = Family(
    name="query",
    metric="chlops_db_query_duration_seconds",
    help="Time a database query took, by the connection's alias (the execute wrapper on every connection).",
    key_label="database",
    keys=lambda: settings.DATABASES,
    labels=(),
    module=lambda key: "database",
    words="queries",
)
FAMILIES = {family.name: family for family in (HTTP, JOB, SEARCH, EMBED, CHECK, QUERY)}


@dataclass(frozen=True)
class Counter:
    """A cumulative count for /metrics alone, with one closed label (or none)."""

    name: str
    metric: str
    help: str
    label: str = ""
    values: Callable[[], Collection[str]] = lambda: ()
    bounded_by_caller: bool = False  # the label's values are bounded where they are made (cache prefixes)

    def value_of(self, value: str) -> str:
        return value if not self.label or self.bounded_by_caller or value in self.values() else OTHER


EMBEDDED_TEXTS = Counter(
    name="embedded_texts",
    metric="chlops_embedded_texts",
    help="Texts embedded, by embedder.",
    label="embedder",
    values=lambda: EMBEDDERS,
)
DROPPED = Counter(
    name="dropped",
    metric="chlops_metrics_dropped",
    help="Measurements dropped because Redis did not answer when a process flushed them.",
)
SLOW_QUERIES = Counter(
    name="slow_queries",
    metric="chlops_db_slow_queries",
    help="Database queries slower than CHLOPS_SLOW_QUERY_MS.",
)
DB_LOCKED = Counter(
    name="db_locked",
    metric="chlops_db_locked",
    help="Queries that failed because SQLite's busy timeout ran out (database is locked).",
)
CACHE_HITS = Counter(
    name="cache_hits",
    metric="chlops_cache_hits",
    help="Reads of Django's cache that found their key, by the key's prefix (at most 50 per process, then other).",
    label="prefix",
    bounded_by_caller=True,
)
CACHE_MISSES = Counter(
    name="cache_misses",
    metric="chlops_cache_misses",
    help="Reads of Django's cache that did not find their key, by the key's prefix.",
    label="prefix",
    bounded_by_caller=True,
)
COUNTERS = {
    counter.name: counter for counter in (EMBEDDED_TEXTS, DROPPED, SLOW_QUERIES, DB_LOCKED, CACHE_HITS, CACHE_MISSES)
}


@dataclass(frozen=True)
class Log:
    """The latest `keep` entries of something (a JSON object each), newest first, in one Redis list."""

    name: str
    keep: int

    @property
    def key(self) -> str:
        return f"{PREFIX}:log:{self.name}"


SLOW_QUERY_LOG = Log(name="slow_queries", keep=100)


@dataclass(frozen=True)
class Gauge:
    """A level sampled over time (a queue's length): per bucket its last and its highest sample."""

    name: str
    help: str


QUEUE_LENGTH = Gauge(name="queue_length", help="Messages waiting in the broker's queues, all together.")
GAUGES = {gauge.name: gauge for gauge in (QUEUE_LENGTH,)}


def gauge_key(width: int, start: int, gauge: str) -> str:
    return f"{PREFIX}:{WIDTHS[width]}:{start}:gauge:{gauge}"


def widths_of(key: str) -> tuple[int, ...]:
    """The resolutions a series is kept at: ten minutes too for the merged one the day's chart draws."""
    return (MINUTE, TEN_MINUTES, HOUR) if key == ALL else (MINUTE, HOUR)


def bucket_start(at: float, width: int) -> int:
    return int(at // width) * width


def series_key(width: int, start: int, family: str, key: str) -> str:
    return f"{PREFIX}:{WIDTHS[width]}:{start}:{family}:{key}"


def modules_key(width: int, start: int) -> str:
    return f"{PREFIX}:{WIDTHS[width]}:{start}:modules"


def total_key(family: str) -> str:
    return f"{PREFIX}:total:{family}"


COUNTERS_KEY = f"{PREFIX}:total:counters"


def keep_for(width: int, *, modules: bool = False) -> int:
    """Seconds a bucket of `width` is kept after it ends."""
    if width in (TEN_MINUTES, HOUR):
        return ROLLUP_KEEP
    return MODULE_MINUTE_KEEP if modules else MINUTE_KEEP
