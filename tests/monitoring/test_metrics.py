"""The metrics store: bins within their error, counts that add up across flushes, retention by the
store's clock, closed series names, and Redis down costing nothing but the dropped counts."""

from __future__ import annotations

import time

import numpy as np
import pytest
import redis

from chlops.redis_clients import redis_client
from monitoring.metrics import RECORDER, clock, reading, series
from monitoring.metrics.sketch import RELATIVE_ACCURACY, Sketch, bin_of, bin_value

BIN_WIDTH = 2 * RELATIVE_ACCURACY  # a bin's relative width: a quantile read from bins is within it


@pytest.fixture
def at():
    """The store's clock set to ten minutes of this test's own, one to six hours ago (other tests record at
    the real time). Other tests may have picked the same ten minutes earlier in the run: what they left
    in those minutes' keys is removed first (the hour's roll-up is shared, and read as "at least")."""
    start = series.bucket_start(time.time() - 3600 - np.random.default_rng().integers(0, 300) * 60, 600)
    RECORDER.flush()  # what this process counted so far goes to the real time, not to these minutes
    store = redis_client()
    starts = [(series.MINUTE, minute) for minute in range(start, start + 600, 60)] + [(series.TEN_MINUTES, start)]
    for width, bucket in starts:
        stale = list(store.scan_iter(match=f"{series.PREFIX}:{series.WIDTHS[width]}:{bucket}:*", count=1000))
        if stale:
            store.delete(*stale)
    clock.clock_set(start + 5)
    yield start
    clock.clock_reset()


class SketchTests:
    def test_quantiles_of_a_lognormal_sample_are_within_the_bins_error(self):
        values = np.random.default_rng(7).lognormal(mean=-4, sigma=1.2, size=200_000)
        sketch = Sketch()
        for value in values:
            sketch.add(float(value))
        for q in (0.5, 0.9, 0.95, 0.99, 0.999):
            exact = float(np.quantile(values, q))
            assert abs(sketch.quantile(q) - exact) / exact <= BIN_WIDTH

    def test_every_value_is_within_one_percent_of_its_bins_value(self):
        for value in np.geomspace(1e-5, 3600, 5000):
            assert abs(bin_value(bin_of(float(value))) - value) / value <= RELATIVE_ACCURACY + 1e-12

    def test_merging_is_adding_counts(self):
        rng = np.random.default_rng(3)
        a, b, both = Sketch(), Sketch(), Sketch()
        for value in rng.exponential(0.05, 5000):
            a.add(float(value))
            both.add(float(value))
        for value in rng.exponential(0.5, 3000):
            b.add(float(value))
            both.add(float(value))
        merged = Sketch().merge(a).merge(b)
        assert merged.bins == both.bins
        assert merged.count == 8000
        assert merged.quantile(0.95) == both.quantile(0.95)

    def test_an_empty_sketch_has_no_quantile(self):
        assert Sketch().quantile(0.5) is None


class RecorderTests:
    def test_counts_flushed_in_several_seconds_add_up_in_the_minute_and_its_roll_up(self, at):
        for i in range(300):
            RECORDER.observe(series.HTTP, "search", ("GET", "2xx" if i % 10 else "5xx"), 0.010 + i / 10_000, error=not i % 10)
            if i % 100 == 99:
                assert RECORDER.flush()
        minute = reading.series_points("http", "search", since=at, until=at + 60, width=series.MINUTE)[0]
        hourly = reading.series_points("http", "search", since=at, until=at + 1, width=series.HOUR)[0]
        everything = reading.series_points("http", series.ALL, since=at, until=at + 60, width=series.MINUTE)[0]
        rolled = reading.series_points("http", series.ALL, since=at, until=at + 600, width=series.TEN_MINUTES)[0]
        assert (minute.count, minute.errors) == (300, 30)
        assert hourly.count >= 300 and hourly.errors >= 30  # other tests' minutes may share the hour
        assert everything.count == 300
        assert rolled.count >= 300
        assert not redis_client().exists(series.series_key(series.TEN_MINUTES, at, "http", "search"))
        assert abs(minute.sketch.quantile(0.5) - 0.02495) / 0.02495 <= BIN_WIDTH
        assert minute.sketch.sum == pytest.approx(sum(0.010 + i / 10_000 for i in range(300)), rel=1e-4)

    def test_a_module_minute_counts_each_family_apart(self, at):
        RECORDER.observe(series.JOB, "reindex", ("failed",), 2.0, error=True)
        RECORDER.observe(series.JOB, "canary", ("succeeded",), 1.0)
        RECORDER.observe(series.CHECK, "index", ("down",), 0.004, error=True)
        RECORDER.flush()
        RECORDER.observe(series.HTTP, "index", ("GET", "5xx"), 0.5, error=True)
        RECORDER.flush()
        [(_, modules)] = reading.modules_points(since=at, until=at + 60, width=series.MINUTE)
        index = modules["index"]
        assert (index["job"].n, index["job"].e, index["job"].s) == (1, 1, 2_000_000)
        assert (index["check"].n, index["check"].e, index["check"].s) == (1, 1, 4000)
        assert (modules["jobs"]["job"].n, modules["jobs"]["job"].e) == (1, 0)
        assert "http" not in index and modules["web"]["http"].e == 1  # every request is the web's work

    def test_names_outside_their_closed_sets_are_counted_as_other(self, at):
        before = reading.totals("http").get(("other", "other", "other"), reading.Total()).count
        RECORDER.observe(series.HTTP, "/etc/passwd", ("BREW", "1xx"), 0.001)
        RECORDER.flush()
        assert reading.totals("http")[("other", "other", "other")].count == before + 1
        assert not redis_client().keys("*passwd*")

    def test_cumulative_totals_sort_durations_into_the_exposed_buckets(self, at):
        before = reading.totals("search").get(("hybrid", "ok"), reading.Total(buckets=[0] * (len(series.LE) + 1)))
        for seconds in (0.0005, 0.001, 0.02, 0.02, 7.0, 5000.0):
            RECORDER.observe(series.SEARCH, "hybrid", ("ok",), seconds)
        RECORDER.count(series.EMBEDDED_TEXTS, "hashing", 40)
        counted = reading.counters().get(("embedded_texts", "hashing"), 0)
        RECORDER.flush()
        after = reading.totals("search")[("hybrid", "ok")]
        added = [a - b for a, b in zip(after.buckets, before.buckets, strict=True)]
        le = series.LE
        assert added[le.index(0.001)] == 2  # le is inclusive: 0.001 counts in the 1 ms bucket
        assert added[le.index(0.025)] == 2
        assert added[le.index(10.0)] == 1
        assert added[-1] == 1  # beyond the last bound: +Inf only
        assert after.count - before.count == 6
        assert reading.counters()[("embedded_texts", "hashing")] == counted + 40

    def test_minutes_expire_after_eight_hours_and_roll_ups_after_eight_days(self, at):
        now = time.time()
        cases = {
            "fresh": now - 3600,
            "minute gone": now - series.MINUTE_KEEP - 600,
            "all gone": now - series.ROLLUP_KEEP - 2 * 3600,
        }
        kept = {}
        for case, when in cases.items():
            clock.clock_set(when)
            RECORDER.observe(series.SEARCH, "sparse", ("ok",), 0.01)
            RECORDER.flush()
            start = series.bucket_start(when, 60)
            kept[case] = (
                redis_client().exists(series.series_key(60, start, "search", "sparse")),
                redis_client().exists(series.series_key(3600, series.bucket_start(when, 3600), "search", "sparse")),
            )
        assert kept == {"fresh": (1, 1), "minute gone": (0, 1), "all gone": (0, 0)}
        clock.clock_set(now - 3600)
        ttl = redis_client().ttl(series.series_key(60, series.bucket_start(now - 3600, 60), "search", "sparse"))
        assert series.MINUTE_KEEP - 3600 - 120 < ttl <= series.MINUTE_KEEP - 3600 + 60

    def test_a_range_older_than_the_minutes_is_read_from_the_roll_ups(self, at):
        clock.clock_reset()
        assert reading.width_for(time.time() - 3600) == series.MINUTE
        assert reading.width_for(time.time() - 86400) == series.TEN_MINUTES


class RedisDownTests:
    def test_recording_never_waits_and_a_failed_flush_counts_what_it_dropped(self, at, settings, tmp_path):
        good_url = settings.REDIS_URL
        before = reading.counters().get(("dropped", ""), 0)
        settings.REDIS_URL = f"unix://{tmp_path}/nobody-listens.sock"
        started = time.perf_counter()
        for _ in range(1000):
            RECORDER.observe(series.HTTP, "web", ("GET", "2xx"), 0.003)
        per_call = (time.perf_counter() - started) / 1000
        dropped = RECORDER.dropped
        RECORDER.flush()  # this call or the flusher thread, whichever came first, met no Redis
        assert RECORDER.dropped >= dropped + 1000
        assert RECORDER.last_error
        assert per_call < 0.001
        with pytest.raises(redis.RedisError):
            redis_client().ping()

        settings.REDIS_URL = good_url
        RECORDER.observe(series.HTTP, "web", ("GET", "2xx"), 0.003)
        assert RECORDER.flush() is True
        assert reading.counters()[("dropped", "")] >= before + 1000
        assert reading.series_points("http", "web", since=at, until=at + 60, width=60)[0].count == 1

    def test_nothing_is_counted_when_metrics_are_off(self, at, settings):
        settings.CHLOPS_METRICS = False
        RECORDER.observe(series.HTTP, "audit", ("GET", "2xx"), 0.003)
        assert not any(slot[2] == "audit" for slot in RECORDER.pending)

