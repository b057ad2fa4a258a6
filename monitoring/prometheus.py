"""`/metrics` in Prometheus's text format: a custom collector over the store, through prometheus_client's
own exposition (not its multiprocess mode: the store already adds every process up in Redis).

Counters and histograms are the store's cumulative totals, so they never go down while Redis keeps
them; gauges (queues, workers, module health, the audit chain) are read when scraped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from chlops.exceptions import ServiceUnavailable
from monitoring.health import selectors as health
from monitoring.metrics import RECORDER, reading, series
from monitoring.models import WorkerState
from operations import workers

logger = logging.getLogger(__name__)

STATUS_VALUES = {"healthy": 0, "degraded": 1, "down": 2, "unknown": -1}


class StoreCollector:
    """What /metrics shows, read from the metrics store and the stored health when scraped."""

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self.histograms()
            yield from self.counters()
        except redis.RedisError:
            logger.warning("/metrics without its counters and histograms: Redis is not answering")
        yield from self.gauges()

    def histograms(self) -> Iterator[Metric]:
        for family in series.FAMILIES.values():
            labels = [family.key_label, *(name for name, _ in family.labels)]
            metric = HistogramMetricFamily(family.metric, family.help, labels=labels, unit="")
            for values, total in sorted(reading.totals(family.name).items()):
                if len(values) != len(labels):
                    continue
                cumulative, buckets = 0, []
                for bound, n in zip([*map(str, family.le), "+Inf"], total.buckets, strict=True):
                    cumulative += n
                    buckets.append((bound, cumulative))
                metric.add_metric(list(values), buckets, total.sum_us / 1_000_000)
            yield metric

    def counters(self) -> Iterator[Metric]:
        found = reading.counters()
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
        online = GaugeMetricFamily("chlops_workers_online", "Workers beating now, by state.", labels=["state"])
        rows = workers.roster().listing()
        for state in (WorkerState.ONLINE, WorkerState.PAUSED, WorkerState.DRAINING):
            online.add_metric([state], sum(1 for row in rows if row["state"] == state))
        yield online


def metrics_text() -> bytes:
    """The exposition of every metric, as Prometheus scrapes it."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector())
    return generate_latest(registry)
