"""Count in memory; flush to Redis once a second, in one pipeline, from one daemon thread per process.

Recording takes a lock for a few dictionary updates and never touches the network, so no request
waits for metrics. The flush sends what the process counted since the last one as increments
(HINCRBY), so processes on any number of hosts add up in the same hashes. When Redis does not
answer, that second's counts are dropped and the drop is counted, here and, once Redis is back, in
the shared `dropped` counter; nothing piles up in memory.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from bisect import bisect_left
from collections import defaultdict

import redis
from django.conf import settings

from chlops.redis_clients import redis_client
from monitoring.metrics import clock, series
from monitoring.metrics.series import MINUTE, TEN_MINUTES, Counter, Family
from monitoring.metrics.sketch import bin_of

logger = logging.getLogger(__name__)

FLUSH_TIMEOUT = 0.5  # seconds a flush may wait on Redis; only the flusher thread ever waits
# Add several fields of one hash at once and set when it expires: one command per hash.
INCREMENTS = """
for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[1] ~= '0' then redis.call('EXPIREAT', KEYS[1], ARGV[1]) end
return 1
"""
# A gauge's sample into each resolution's bucket: the last one, and the highest one.
GAUGE = """
for i = 1, #KEYS do
  local high = tonumber(redis.call('HGET', KEYS[i], 'max') or '-1')
  if tonumber(ARGV[1]) > high then redis.call('HSET', KEYS[i], 'max', ARGV[1]) end
  redis.call('HSET', KEYS[i], 'last', ARGV[1])
  redis.call('EXPIREAT', KEYS[i], ARGV[i + 1])
end
return 1
"""


class Tally:
    """What one process counted for one series in one minute."""

    __slots__ = ("n", "e", "us", "bins", "le")

    def __init__(self, buckets: int = len(series.LE)) -> None:
        self.n = 0
        self.e = 0
        self.us = 0
        self.bins: dict[int, int] = {}
        self.le = [0] * (buckets + 1)  # the last one is +Inf

    def add(self, index: int, le: int, us: int, error: bool) -> None:
        self.n += 1
        self.e += error
        self.us += us
        self.bins[index] = self.bins.get(index, 0) + 1
        self.le[le] += 1


class Recorder:
    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a forked child counts (and flushes) its own
        atexit.register(self._exit_flush)

    def _reset(self) -> None:
        self.lock = threading.Lock()
        self.flushing = threading.Lock()  # one flush at a time: when flush() returns, all counted before it is sent
        self.pending: dict[tuple[int, str, str, tuple[str, ...]], Tally] = {}
        self.counters: dict[tuple[str, str], int] = {}
        self.notes: list[tuple[series.Log, str]] = []
        self.gauges: dict[tuple[int, str], int] = {}
        self.dropped = 0  # measurements this process dropped since it started
        self.dropped_unsent = 0  # of those, not yet added to the shared counter
        self.last_error = ""
        self.thread: threading.Thread | None = None
        self.stopped = threading.Event()

    # --- Recording: called on the request path --------------------------------------------

    def observe(self, family: Family, key: str, labels: tuple[str, ...], seconds: float, *, error: bool = False) -> None:
        """Count one duration of `family`'s series `key` with `labels` (values outside their sets become "other")."""
        if not settings.CHLOPS_METRICS:
            return
        slot = (series.bucket_start(clock.now(), MINUTE), family.name, family.key_of(key), family.labels_of(labels))
        index, le, us = bin_of(seconds), bisect_left(family.le, seconds), int(seconds * 1_000_000)
        with self.lock:
            tally = self.pending.get(slot)
            if tally is None:
                tally = self.pending[slot] = Tally(len(family.le))
            tally.add(index, le, us, error)
        if self.thread is None:
            self._start()

    def count(self, counter: Counter, value: str = "", n: int = 1) -> None:
        """Add `n` to a cumulative counter."""
        if not settings.CHLOPS_METRICS:
            return
        slot = (counter.name, counter.value_of(value))
        with self.lock:
            self.counters[slot] = self.counters.get(slot, 0) + n
        if self.thread is None:
            self._start()

    def note(self, log: series.Log, entry: dict) -> None:
        """Add an entry to the head of `log` (it keeps its latest `log.keep`)."""
        if not settings.CHLOPS_METRICS:
            return
        text = json.dumps(entry, default=str)
        with self.lock:
            self.notes.append((log, text))
        if self.thread is None:
            self._start()

    def gauge(self, gauge: series.Gauge, value: int) -> None:
        """Sample a level now (the last sample of a second is the one sent)."""
        if not settings.CHLOPS_METRICS:
            return
        with self.lock:
            self.gauges[(int(clock.now()), gauge.name)] = value
        if self.thread is None:
            self._start()

    # --- Flushing: the daemon thread, or a caller that wants it now -------------------------

    def _start(self) -> None:
        with self.lock:
            if self.thread is not None:
                return
            self.thread = threading.Thread(target=self._run, name="chlops-metrics", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(settings.CHLOPS_METRICS_FLUSH_SECONDS):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 — the flusher must outlive any one bad second
                logger.exception("metrics flush failed")

    def flush(self, *, quiet: bool = False) -> bool:
        """Send what was counted since the last flush; False (and the counts dropped) when Redis did not answer."""
        with self.flushing:
            return self._flush(quiet=quiet)

    def _exit_flush(self) -> None:
        # A short-lived command's last second; at exit, log streams may be closed already: say nothing.
        self.stopped.set()
        self.flush(quiet=True)

    def _flush(self, *, quiet: bool) -> bool:
        with self.lock:
            pending, self.pending = self.pending, {}
            counters, self.counters = self.counters, {}
            notes, self.notes = self.notes, []
            gauges, self.gauges = self.gauges, {}
            unsent = self.dropped_unsent
        if not pending and not counters and not unsent and not notes and not gauges:
            return True
        try:
            self._write(pending, counters, unsent, notes, gauges)
        except (redis.RedisError, OSError) as exc:
            lost = sum(tally.n for tally in pending.values()) + sum(counters.values()) + len(notes) + len(gauges)
            with self.lock:
                self.dropped += lost
                self.dropped_unsent += lost
                self.last_error = str(exc)
            if not quiet:
                logger.warning("metrics of the last second dropped (%d measurements): Redis did not answer", lost)
            return False
        with self.lock:
            self.dropped_unsent -= unsent
            self.last_error = ""
        return True

    def _write(
        self, pending: dict, counters: dict[tuple[str, str], int], unsent: int, notes: list | None = None, gauges: dict | None = None
    ) -> None:
        hashes = increments(pending)
        totals = hashes.setdefault((series.COUNTERS_KEY, 0), defaultdict(int))
        for (name, value), n in counters.items():
            totals[f"{name}|{value}"] += n
        if unsent:
            totals[f"{series.DROPPED.name}|"] += unsent
        client = redis_client(timeout=FLUSH_TIMEOUT)
        script = _script(client)
        with client.pipeline(transaction=False) as pipe:
            for (key, expire_at), fields in hashes.items():
                if fields:
                    args = [expire_at, *(item for pair in fields.items() for item in pair)]
                    script(keys=[key], args=args, client=pipe)
            for log, texts in _by_log(notes or []).items():
                pipe.lpush(log.key, *texts)
                pipe.ltrim(log.key, 0, log.keep - 1)
            gauge_script = _script(client, GAUGE)
            for (at, name), value in sorted((gauges or {}).items()):
                keys, expiries = [], []
                for width in (MINUTE, TEN_MINUTES, series.HOUR):
                    start = series.bucket_start(at, width)
                    keys.append(series.gauge_key(width, start, name))
                    expiries.append(start + width + series.keep_for(width))
                gauge_script(keys=keys, args=[value, *expiries], client=pipe)
            pipe.execute()


def increments(pending: dict[tuple[int, str, str, tuple[str, ...]], Tally]) -> dict[tuple[str, int], dict[str, int]]:
    """The HINCRBYs a flush sends: per (hash key, when it expires), field → amount."""
    out: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    minutes: dict[tuple[int, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (minute, name, key, labels), tally in pending.items():
        family = series.FAMILIES[name]
        for target in (key, series.ALL) if family.merged else (key,):
            _add(minutes[(minute, name, target)], tally)
        module_prefix = f"{family.module(key)}|{name}|"
        for width in (MINUTE, TEN_MINUTES):
            start = series.bucket_start(minute, width)
            modules = out[(series.modules_key(width, start), start + width + series.keep_for(width, modules=True))]
            modules[module_prefix + "n"] += tally.n
            modules[module_prefix + "e"] += tally.e
            modules[module_prefix + "s"] += tally.us
        total = out[(series.total_key(name), 0)]
        labelled = ",".join((key, *labels))
        total[f"{labelled}|n"] += tally.n
        total[f"{labelled}|s"] += tally.us
        for le, n in enumerate(tally.le):
            if n:
                total[f"{labelled}|{le}"] += n
    # A minute's fields are its roll-ups' too: built once, copied (in C) to each resolution's key.
    for (minute, name, key), fields in minutes.items():
        for width in series.widths_of(key):
            start = series.bucket_start(minute, width)
            slot = (series.series_key(width, start, name, key), start + width + series.keep_for(width))
            if slot in out:
                for field, n in fields.items():
                    out[slot][field] += n
            else:
                out[slot] = defaultdict(int, fields)
    return out


def _add(fields: dict[str, int], tally: Tally) -> None:
    fields["n"] += tally.n
    fields["e"] += tally.e
    fields["s"] += tally.us
    for index, n in tally.bins.items():
        fields[str(index)] += n


def _by_log(notes: list[tuple[series.Log, str]]) -> dict[series.Log, list[str]]:
    found: dict[series.Log, list[str]] = {}
    for log, text in notes:
        found.setdefault(log, []).append(text)  # LPUSH of a, b leaves b first: newest at the head
    return found


_scripts: dict[tuple[int, str], object] = {}


def _script(client: redis.Redis, source: str = INCREMENTS):
    found = _scripts.get((id(client), source))
    if found is None:
        found = _scripts[(id(client), source)] = client.register_script(source)
    return found


RECORDER = Recorder()
