"""Snapshots: export and import speed (MB/s), and the worst search latency seen during a restore.

    python bench/snapshots.py [--vectors 100000] [--rate 20]

In one process on a throwaway stack (own data dir, embedded Redis, SQLite): build a Flat index of
N random unit 384-d vectors and publish it, then
1. export: `snapshot_save` (sha256 of every file, ZIP written to a temp file, fsync, rename, row, audit);
2. import: `snapshot_import` of that ZIP (unpack in chunks with the bomb limits, checksums, the FAISS
   probe in a memory-capped subprocess, a fresh ZIP written) — what an upload costs after it arrived;
3. restore: `snapshot_restore` (validate again, back up the served set as a snapshot, publish, hot-reload)
   while a thread searches through `index_current().search` at --rate per second; the slowest
   search and the p99 during the restore are reported.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import machine, migrate, percentile, setup_django, start_redis, table  # noqa: E402

DIM = 384


class Ctx:
    def __init__(self) -> None:
        self.job = SimpleNamespace(pk=0, source="cli", requested_by=None)
        self.correlation_id = uuid.uuid4()

    def progress(self, *args, **kwargs) -> None:
        pass

    def checkpoint(self) -> None:
        pass

    def log(self, *args, **kwargs) -> None:
        pass


def publish(n: int) -> None:
    from indexes.store import index_build, index_publish, set_write, staging_dir

    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((n, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    built = index_build(vectors, exact_max=n, approx="pq", recall_target=0.95, hnsw_m=32)
    with staging_dir() as staged:
        set_write(staged=staged, built=built, ids=np.arange(1, n + 1), kinds=np.zeros(n, dtype=np.uint8))
        index_publish(
            staged=staged,
            manifest={
                "vectors": n,
                "dimension": DIM,
                "embedder": "hashing-384",
                "index_type": built.index_type,
                "search_params": built.search_params,
                "recall_at_10": built.recall_at_10,
                "kinds": ["experience", "manual", "document"],
                "built_at": "2026-01-01T00:00:00+00:00",
            },
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=20.0, help="searches per second during the restore")
    args = parser.parse_args()
    setup_django(CHLOPS_EMBEDDER="hashing", CHLOPS_EMBEDDING_DIMENSION=str(DIM))
    migrate()
    redis = start_redis()
    try:
        from indexes.snapshots.restore import snapshot_restore
        from indexes.snapshots.services import snapshot_import, snapshot_save, staging_area
        from indexes.snapshots.storage import snapshots_dir
        from indexes.store import index_current

        publish(args.vectors)
        started = time.perf_counter()
        snapshot = snapshot_save(source="job", actor=None, correlation_id=None)
        export_seconds = time.perf_counter() - started
        size = snapshot.size_bytes

        with staging_area() as staged:
            shutil.copyfile(snapshots_dir() / snapshot.path, staged / "upload.zip")
            started = time.perf_counter()
            imported = snapshot_import(
                zip_path=staged / "upload.zip", staged=staged, filename="bench.zip", actor=None, source="cli"
            )
            import_seconds = time.perf_counter() - started

        queries = np.random.default_rng(2).standard_normal((1000, DIM), dtype=np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        index_current().search(queries[:1], 10)  # loaded before the clock starts
        latencies: list[float] = []
        failures: list[str] = []
        stop = threading.Event()

        def searcher() -> None:
            i = 0
            while not stop.is_set():
                began = time.perf_counter()
                try:
                    index_current().search(queries[i % len(queries)][None, :], 10)
                except Exception as exc:  # noqa: BLE001 — counted and reported
                    failures.append(repr(exc))
                latencies.append((time.perf_counter() - began) * 1000)
                i += 1
                stop.wait(max(0.0, 1 / args.rate - (time.perf_counter() - began)))

        thread = threading.Thread(target=searcher)
        thread.start()
        started = time.perf_counter()
        result = snapshot_restore(Ctx(), {"snapshot": imported.pk})
        restore_seconds = time.perf_counter() - started
        stop.set()
        thread.join()
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait(10)

    mb = size / 1e6
    print(f"Machine: {machine()}")
    print(f"{args.vectors:,} random unit vectors, {DIM} dimensions, Flat index; snapshot ZIP {mb:,.1f} MB\n")
    print(
        table(
            ["step", "seconds", "MB/s"],
            [
                ["export (snapshot_save)", f"{export_seconds:.2f}", f"{mb / export_seconds:,.0f}"],
                ["import (snapshot_import: validate + store)", f"{import_seconds:.2f}", f"{mb / import_seconds:,.0f}"],
                ["restore (validate, back up, swap, reload)", f"{restore_seconds:.2f}", f"{mb / restore_seconds:,.0f}"],
            ],
        )
    )
    print(
        f"\nSearches during the restore at {args.rate:g}/s: {len(latencies)}, failed {len(failures)}; "
        f"p50 {percentile(latencies, 50):.2f} ms, p99 {percentile(latencies, 99):.2f} ms, "
        f"worst {max(latencies):.2f} ms; served version after: {result['version']}"
    )


if __name__ == "__main__":
    main()
