"""`/metrics` in Prometheus's text format: a custom collector over the store (not prometheus_client's
multiprocess mode: the store already adds every process up in Redis).

Counters and histograms are the store's cumulative totals, so they never go down while Redis keeps
them; gauges (queues, workers, module health, the audit chain) are read when scraped. The histograms
are most of a scrape (each module × method × status class is a label set of 16 samples: about 7,000
samples in all), so their lines are written here exactly as prometheus_client writes them (a test
compares the two): building its Sample objects and writing them one by one took 80 % of a scrape.
Their HELP and TYPE lines, the counters and the gauges go through prometheus_client's exposition.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping

import redis
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.openmetrics.exposition import escape_label_name, escape_metric_name
from prometheus_client.utils import floatToGoString

from chlops.exceptions import ServiceUnavailable
from monitoring import selectors
from monitoring.health import selectors as health
from monitoring.metrics import RECORDER, reading, series
from monitoring.metrics.reading import Total
from monitoring.models import WorkerState
from operations import workers

logger = logging.getLogger(__name__)

STATUS_VALUES = {"healthy": 0, "degraded": 1, "down": 2, "unknown": -1}


def metrics_text() -> bytes:
    """The exposition of every metric, as Prometheus scrapes it."""
    try:
        totals, counted = reading.cumulative()
    except redis.RedisError:
        logger.warning("/metrics without its counters and histograms: Redis is not answering")
        totals, counted = {}, None
    histograms = "".join(histogram_text(family, totals[family.name]) for family in series.FAMILIES.values() if family.name in totals)
    return histograms.encode() + generate_latest(StoreCollector(counted))


def histogram_text(family: series.Family, totals: Mapping[tuple[str, ...], Total]) -> str:
    """A family's histograms in the text format, byte for byte what generate_latest writes for them."""
    names = [family.key_label, *(name for name, _ in family.labels)]
    lines = [generate_latest(Only(HistogramMetricFamily(family.metric, family.help, labels=names))).decode()]
    metric = escape_metric_name(family.metric)
    bounds = [*map(str, family.le), "+Inf"]
    for values, total in sorted(totals.items()):
        if len(values) != len(names):
            continue
        labels = sorted(zip(names, values, strict=True))  # the exposition sorts labels by name, le among them
        pairs = [f'{escape_label_name(name)}="{label_value(value)}"' for name, value in labels]
        cut = sum(name < "le" for name, _ in labels)
        before, after = "".join(f"{pair}," for pair in pairs[:cut]), "".join(f",{pair}" for pair in pairs[cut:])
        labelled = ",".join(pairs)
        cumulative = 0
        for bound, n in zip(bounds, total.buckets, strict=True):
            cumulative += n
            lines.append(f'{metric}_bucket{{{before}le="{bound}"{after}}} {floatToGoString(cumulative)}\n')
        lines.append(f"{metric}_count{{{labelled}}} {floatToGoString(cumulative)}\n")
        lines.append(f"{metric}_sum{{{labelled}}} {floatToGoString(total.sum_us / 1_000_000)}\n")
    return "".join(lines)


def label_value(value: str) -> str:
    """A label value escaped as the text format wants it (backslash, newline, double quote)."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


class Only:
    """Metric families already built, as a collector generate_latest can write."""

    def __init__(self, *metrics: Metric) -> None:
        self.metrics = metrics

    def collect(self) -> tuple[Metric, ...]:
        return self.metrics


class StoreCollector:
    """The counters (as read from the store; None when Redis did not answer) and the gauges, read when scraped."""

    def __init__(self, counted: dict[tuple[str, str], int] | None) -> None:
        self.counted = counted

    def collect(self) -> Iterator[Metric]:
        if self.counted is not None:
            yield from self.counters(self.counted)
        yield from self.gauges()

    def counters(self, found: dict[tuple[str, str], int]) -> Iterator[Metric]:
        for counter in series.COUNTERS.values():
            metric = CounterMetricFamily(counter.metric, counter.help, labels=[counter.label] if counter.label else [])
            for (name, value), count in sorted(found.items()):
                if name == counter.name:
                    metric.add_metric([value] if counter.label else [], count)
            yield metric

    def gauges(self) -> Iterator[Metric]:
        dropped = GaugeMetricFamily(
            "chlops_metrics_dropped_unsent", "Measurements this web process dropped and has not yet counted in Redis."
        )
        dropped.add_metric([], RECORDER.dropped_unsent)
        yield dropped
        yield from self.queue_gauges()
        overview = health.health_overview()
        status = GaugeMetricFamily(
            "chlops_module_status", "Health of each module: 0 healthy, 1 degraded, 2 down, -1 not checked yet.", labels=["module"]
        )
        for view in overview.modules:
            status.add_metric([view.name], STATUS_VALUES[view.status])
        yield status
        overall = GaugeMetricFamily("chlops_health_status", "Overall health: 0 healthy, 1 degraded, 2 down.")
        overall.add_metric([], STATUS_VALUES[overview.status])
        yield overall
        audit = overview.module("audit")
        chain = GaugeMetricFamily("chlops_audit_chain_intact", "1 while the audit log's hash chain verifies, 0 when it is broken.")
        if audit.status != "unknown":
            chain.add_metric([], 0 if audit.status == "down" else 1)
        yield chain

    def queue_gauges(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("chlops_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"])
        try:
            for queue, waiting in workers.queue_depths().items():
                depth.add_metric([queue], waiting)
        except ServiceUnavailable:
            pass  # the broker is down: no depth is better than a made-up zero
        yield depth
        rate = GaugeMetricFamily("chlops_worker_processing_rate", "Tasks the beating workers finished per minute, over the last minute.")
        rate.add_metric([], selectors.rate_per_minute())
        yield rate
        online = GaugeMetricFamily("chlops_workers_online", "Workers beating now, by state.", labels=["state"])
        rows = workers.roster().listing()
        for state in (WorkerState.ONLINE, WorkerState.PAUSED, WorkerState.DRAINING):
            online.add_metric([state], sum(1 for row in rows if row["state"] == state))
        yield online
