"""Anomalies by robust z-score over a day of minutes, with their sentences; trends; error counts."""

from __future__ import annotations

import time

import numpy as np

from monitoring.health import insights
from monitoring.metrics import RECORDER, clock, series
from monitoring.metrics.reading import Counts


def day(values: list[float], *, family: str = "http", metric: str = "e", module: str = "web", n: int = 50) -> list:
    """Minutes of one module where `metric` takes `values` (oldest first), other numbers steady."""
    minutes = []
    for i, value in enumerate(values):
        counts = Counts(n=n, e=0, s=n * 20_000)
        if metric == "e":
            counts.e = int(value)
        elif metric == "n":
            counts.n, counts.s = int(value), int(value) * 20_000
        else:
            counts.s = int(value * 1000 * n)
        minutes.append((i * 60, {module: {family: counts}}))
    return minutes


def quiet(minutes: int = 600, level: float = 0.0, spread: float = 0.0, seed: int = 1) -> list[float]:
    rng = np.random.default_rng(seed)
    return [max(0.0, level + spread * rng.standard_normal()) for _ in range(minutes)]


class AnomalyTests:
    def test_three_minutes_of_errors_over_a_quiet_day_is_a_high_anomaly_with_a_sentence(self):
        [found] = insights.module_anomalies("web", day([*quiet(), 14, 14, 14]))
        assert found["severity"] == "high"
        assert found["sentence"] == "error count 14 in the last minute, usually 0–1"
        assert (found["family"], found["metric"]) == ("http", "errors")

    def test_two_breaches_are_not_enough(self):
        assert insights.module_anomalies("web", day([*quiet(), 0, 14, 14])) == []

    def test_a_few_errors_stay_under_the_minimum_rate(self):
        assert insights.module_anomalies("web", day([*quiet(), 2, 2, 2])) == []

    def test_a_moderate_rise_is_medium(self):
        values = [*quiet(level=100, spread=10), 125, 126, 127]
        [found] = [a for a in insights.module_anomalies("web", day(values, metric="n")) if a["metric"] == "count"]
        assert found["severity"] == "medium"
        assert found["sentence"].startswith("requests 127 in the last minute, usually ")

    def test_a_drop_is_an_anomaly_too(self):
        values = [*quiet(level=100, spread=5), 10, 10, 10]
        [found] = [a for a in insights.module_anomalies("web", day(values, metric="n")) if a["metric"] == "count"]
        assert found["z"] < -3

    def test_slow_minutes_name_the_duration_and_its_usual_range(self):
        values = [*quiet(level=20, spread=2), 90, 95, 100]
        [found] = [a for a in insights.module_anomalies("web", day(values, metric="ms")) if a["metric"] == "latency"]
        assert found["sentence"].startswith("response time 100 ms in the last minute, usually ")
        assert found["sentence"].endswith(" ms")

    def test_the_band_has_a_floor_so_a_flat_history_does_not_flag_a_blip(self):
        values = [*quiet(level=20), 24, 24, 24]  # a perfectly flat 20 ms: MAD 0, band floored at 5 ms
        assert not [a for a in insights.module_anomalies("web", day(values, metric="ms")) if a["metric"] == "latency"]

    def test_half_an_hour_of_history_is_too_little_to_call_anything(self):
        assert insights.module_anomalies("web", day([*quiet(minutes=20), 14, 14, 14])) == []

    def test_a_job_module_names_its_failed_jobs(self):
        [found] = insights.module_anomalies("index", day([*quiet(), 5, 6, 7], family="job", module="index"))
        assert found["sentence"] == "failed jobs 7 in the last minute, usually 0–1"


class TrendTests:
    def minutes(self, before_ms: float, now_ms: float) -> list:
        return [(i * 60, {"database": {"check": Counts(n=6, s=int(6 * 1000 * (before_ms if i < 60 else now_ms)))}}) for i in range(120)]

    def test_the_response_time_of_this_hour_against_the_last(self):
        assert insights.trend("database", self.minutes(10, 12)) == {"metric": "response time", "change": 0.2, "direction": "up", "tone": "worse"}
        assert insights.trend("database", self.minutes(10, 8))["tone"] == "better"
        assert insights.trend("database", self.minutes(10, 10.2))["direction"] == "flat"

    def test_for_uptime_up_is_the_better_way(self):
        assert insights.change(99.0, 90.0, metric="uptime", better="up")["tone"] == "better"
        assert insights.change(80.0, 100.0, metric="uptime", better="up")["tone"] == "worse"

    def test_no_earlier_hour_no_trend(self):
        assert insights.trend("database", self.minutes(10, 12)[60:]) is None


class StoreInsightTests:
    def test_a_day_of_minutes_read_from_the_store_gives_the_error_count_and_the_anomaly(self):
        start = series.bucket_start(time.time() - 3 * 3600, 60)
        try:
            for minute in range(120):
                clock.clock_set(start + minute * 60 + 1)
                errors = 14 if minute >= 116 else 0
                for i in range(30):
                    RECORDER.observe(series.SEARCH, "dense", ("error" if i < errors else "ok",), 0.01, error=i < errors)
            RECORDER.flush()
            clock.clock_set(start + 119 * 60 + 30)  # the minute 119 is open: 116–118 are the last closed three
            minutes = insights.day_of_minutes()
        finally:
            clock.clock_reset()
        assert insights.error_count("search", minutes) == 14 * 3
        [found] = [a for a in insights.module_anomalies("search", minutes) if a["metric"] == "errors"]
        assert found["sentence"] == "failed searches 14 in the last minute, usually 0–1"
