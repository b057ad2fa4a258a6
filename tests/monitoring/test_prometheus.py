"""/metrics's own writer of histograms: the very bytes prometheus_client writes, and a scrape of every label set parses."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from monitoring import prometheus
from monitoring.metrics import RECORDER, reading, series


def reference(family: series.Family, totals: dict[tuple[str, ...], reading.Total]) -> str:
    """What prometheus_client's own exposition writes for these totals."""
    names = [family.key_label, *(name for name, _ in family.labels)]
    metric = HistogramMetricFamily(family.metric, family.help, labels=names)
    for values, total in sorted(totals.items()):
        cumulative, buckets = 0, []
        for bound, n in zip([*map(str, family.le), "+Inf"], total.buckets, strict=True):
            cumulative += n
            buckets.append((bound, cumulative))
        metric.add_metric(list(values), buckets, total.sum_us / 1_000_000)
    return generate_latest(prometheus.Only(metric)).decode()


def total(family: series.Family, *counts: int, sum_us: int = 1_234_567) -> reading.Total:
    buckets = [*counts, *[0] * (len(family.le) + 1 - len(counts))]
    return reading.Total(count=sum(buckets), sum_us=sum_us, buckets=buckets)


class HistogramTextTests:
    @pytest.mark.parametrize("family", series.FAMILIES.values(), ids=series.FAMILIES)
    def test_each_family_is_written_byte_for_byte_as_prometheus_client_writes_it(self, family):
        arity = 1 + len(family.labels)
        totals = {
            ("a", *["x"] * (arity - 1)): total(family, 3, 0, 7),
            ("b", *["y"] * (arity - 1)): total(family, 999_999, 1, 2_500_000, sum_us=98_765_432_101),  # Go's exponents
            ('we"ird\\ne\nw', *["z"] * (arity - 1)): total(family, 1),  # escaped as the format says
            (series.OTHER, *[series.OTHER] * (arity - 1)): total(family, sum_us=0),
        }
        assert prometheus.histogram_text(family, totals) == reference(family, totals)

    def test_a_family_without_series_is_its_help_and_type(self):
        assert prometheus.histogram_text(series.JOB, {}) == reference(series.JOB, {})

    def test_a_label_set_of_the_wrong_size_is_left_out(self):
        assert prometheus.histogram_text(series.SEARCH, {("hybrid",): total(series.SEARCH, 1)}) == reference(series.SEARCH, {})


@pytest.mark.django_db
class ScrapeTests:
    def test_every_request_label_set_parses_with_its_buckets_cumulative(self):
        for module in series.MODULES:
            for method in series.METHODS:
                for status_class in series.STATUS_CLASSES:
                    RECORDER.observe(series.HTTP, module, (method, status_class), 0.003)
        RECORDER.flush()
        found = {f.name: f for f in text_string_to_metric_families(prometheus.metrics_text().decode())}
        samples = found["chlops_http_request_duration_seconds"].samples
        label_sets = {tuple(sorted(s.labels.items())) for s in samples if s.name.endswith("_count")}
        assert len(label_sets) >= len(series.MODULES) * len(series.METHODS) * len(series.STATUS_CLASSES)
        web_get = {"module": "web", "method": "GET", "status_class": "2xx"}
        buckets = [s.value for s in samples if s.name.endswith("_bucket") and s.labels.items() > web_get.items()]
        count = next(s.value for s in samples if s.name.endswith("_count") and s.labels == web_get)
        assert buckets == sorted(buckets) and buckets[-1] == count >= 1
        assert len(buckets) == len(series.LE) + 1
        assert {"chlops_module_status", "chlops_health_status", "chlops_metrics_dropped"} <= set(found)
