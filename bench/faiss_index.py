"""FAISS index: the reindex build against plain FAISS, and search latency with recall@10.

    python bench/faiss_index.py [--vectors 1000000] [--queries 2000] [--db-rows 100000] [--repeat 3]

1. Build, same vectors, same run. The job's own functions on a numpy array of N random unit 384-d
   vectors — everything `reindex` does after reading the database: `set_build` (`index_build`:
   chunked adds with progress and checkpoints; `set_write`: files hashed as written, flushed to
   disk beside the measuring; recall measured on 200 corpus queries and k_factor/efSearch/nprobe
   raised until recall@10 ≥ 0.95), then `index_publish` (manifest, fsync, atomic swap, Redis
   broadcast). Baseline: a plain FAISS script building the same index type with the same
   parameters in one `add`, then `write_index`. Each is run --repeat times, alternately, and its
   best run counts (the machine is shared).
   Reading embeddings from the database is measured on its own (`vectors_load`, SQLite,
   --db-rows rows inserted for the purpose), since inserting a million blobs first would dominate
   the run.
2. Search: the served index through `index_current().search` (the service's FAISS path: the
   bundle, per-call search parameters, id mapping), k=10, two threads, single-query calls, on
   held-out random unit queries; recall@10 against exact search (`faiss.knn`). Baseline: raw
   `index.search` on the same index with the same tuned parameter, OpenMP at one thread as the
   service runs single queries.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import machine, migrate, percentile, setup_django, start_redis, table  # noqa: E402

DIM = 384


def unit_vectors(n: int, *, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        block = rng.standard_normal((min(100_000, n - start), DIM), dtype=np.float32)
        out[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


class NullCtx:
    """What the runner context costs the build, without a job row: progress and checkpoint calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.phases: dict[str, float] = {}

    def report(self, phase: str, done: int, total: int) -> None:
        self.calls += 1
        self.phases.setdefault(phase, time.perf_counter())

    def checkpoint(self) -> None:
        self.calls += 1


def job_build(vectors: np.ndarray) -> tuple[float, dict]:
    from indexes.services.reindex import set_build
    from indexes.store import index_publish, staging_dir

    ctx = NullCtx()
    n = len(vectors)
    started = time.perf_counter()
    with staging_dir() as staged:
        ids, kinds = np.arange(1, n + 1), np.ones(n, dtype=np.uint8)
        built = set_build(vectors, ids, kinds, staged=staged, report=ctx.report, checkpoint=ctx.checkpoint)
        built_at = time.perf_counter()
        manifest = {
            "vectors": n,
            "dimension": DIM,
            "embedder": "hashing-384",
            "index_type": built.index_type,
            "search_params": built.search_params,
            "recall_at_10": built.recall_at_10,
            "kinds": ["experience", "manual", "document"],
        }
        sealed = index_publish(staged=staged, manifest=manifest, hashes=built.written, checkpoint=ctx.checkpoint)
    ended = time.perf_counter()
    # Where the time went, from the first report of each phase (measuring overlaps writing).
    marks = [*sorted(ctx.phases.items(), key=lambda item: item[1]), ("publishing", built_at)]
    sealed["phases"] = {
        name: (marks[i + 1][1] if i + 1 < len(marks) else ended) - at for i, (name, at) in enumerate(marks)
    }
    return ended - started, sealed


def warm_up() -> None:
    """Load FAISS's kernels and start OpenMP's threads before anything is timed."""
    import faiss

    sample = unit_vectors(20_000, seed=3)
    faiss.IndexPQFastScan(DIM, 192, 4, faiss.METRIC_INNER_PRODUCT).train(sample)
    faiss.knn(sample[:50], sample, 10, metric=faiss.METRIC_INNER_PRODUCT)


def plain_build(vectors: np.ndarray, index_type: str) -> float:
    import faiss
    from django.conf import settings

    from indexes.store.build import HNSW_EF_CONSTRUCTION

    started = time.perf_counter()
    if index_type.startswith("HNSW"):
        index = faiss.IndexHNSWFlat(DIM, settings.CHLOPS_INDEX_HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    elif index_type.startswith("PQ"):
        m = int(index_type[2:].split("x")[0])
        index = faiss.IndexRefineFlat(faiss.IndexPQFastScan(DIM, m, 4, faiss.METRIC_INNER_PRODUCT))
        rows = np.random.default_rng(1234).choice(len(vectors), size=min(len(vectors), 65_536), replace=False)
        index.train(vectors[np.sort(rows)])
    elif index_type.startswith("IVF"):
        nlist = int(index_type[3:].split(",")[0])
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, nlist, faiss.METRIC_INNER_PRODUCT)
        rows = np.random.default_rng(1234).choice(len(vectors), size=min(len(vectors), 64 * nlist), replace=False)
        index.train(vectors[np.sort(rows)])
    else:
        index = faiss.IndexFlatIP(DIM)
    index.add(vectors)
    with tempfile.NamedTemporaryFile(dir=os.environ["CHLOPS_DATA_DIR"], suffix=".faiss") as handle:
        faiss.write_index(index, handle.name)
    return time.perf_counter() - started


def db_load_rate(rows: int) -> float:
    from django.utils import timezone

    from indexes.models import EmbeddingState, Entry
    from indexes.services.reindex import vectors_load

    vectors, now = unit_vectors(rows, seed=99), timezone.now()
    for start in range(0, rows, 5000):
        Entry.objects.bulk_create(
            Entry(
                kind="manual",
                external_id=f"b{i}",
                content_hash=str(i),
                embedding=vectors[i].tobytes(),
                embedding_model="hashing-384",
                embedding_state=EmbeddingState.READY,
                embedded_at=now,
            )
            for i in range(start, min(rows, start + 5000))
        )
    ctx = type("Ctx", (), {"progress": lambda *a, **k: None, "checkpoint": lambda self: None})()
    started = time.perf_counter()
    loaded, _, _, _ = vectors_load(ctx, model_id="hashing-384", dimension=DIM)
    elapsed = time.perf_counter() - started
    assert len(loaded) == rows
    return rows / elapsed


def search_latencies(search, queries: np.ndarray, threads: int = 2) -> tuple[list[float], list[list[int]]]:
    latencies: list[float] = []
    found: list[list[int]] = [[] for _ in range(len(queries))]

    def work(part: range) -> None:
        for i in part:
            began = time.perf_counter()
            found[i] = search(queries[i : i + 1])
            latencies.append((time.perf_counter() - began) * 1000)

    parts = [range(t, len(queries), threads) for t in range(threads)]
    workers = [threading.Thread(target=work, args=(p,)) for p in parts]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return latencies, found


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return sum(len(set(f) & set(t.tolist())) for f, t in zip(found, truth, strict=True)) / truth.size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--db-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="build runs of each kind; the best one counts")
    args = parser.parse_args()
    setup_django()
    import faiss

    from indexes.store import cache_clear, index_current
    from indexes.store.build import search_parameters

    migrate()
    redis = start_redis()
    try:
        vectors = unit_vectors(args.vectors, seed=1)
        warm_up()
        # Alternate the two and keep each one's best run: the machine is shared, and load comes and goes.
        job_runs, plain_runs = [], []
        for _ in range(args.repeat):
            job_runs.append(job_build(vectors))
            plain_runs.append(plain_build(vectors, job_runs[-1][1]["index_type"]))
        job_seconds, manifest = min(job_runs, key=lambda run: run[0])
        plain_seconds = min(plain_runs)
        load_rate = db_load_rate(args.db_rows) if args.db_rows else None

        cache_clear()
        bundle = index_current()
        queries = unit_vectors(args.queries, seed=2)
        _, truth = faiss.knn(queries, vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)
        truth_ids = truth + 1  # entry ids are positions + 1 in this benchmark
        ours, ours_found = search_latencies(lambda q: [entry_id for entry_id, _ in bundle.search(q, 10)[0]], queries)
        params = search_parameters(manifest["index_type"], manifest["search_params"])
        faiss.omp_set_num_threads(1)  # what the service does per single-query call
        raw, raw_found = search_latencies(
            lambda q: (bundle.index.search(q, 10, params=params)[1][0] + 1).tolist(), queries
        )
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait(10)

    n = args.vectors
    print(f"Machine: {machine()}; faiss {faiss.__version__}")
    print(
        f"{n:,} random unit vectors, 384 dimensions; index {manifest['index_type']} {manifest['search_params']}, "
        f"recall@10 measured at build {manifest['recall_at_10']}, {manifest['size_bytes'] / 2**20:,.0f} MiB\n"
    )
    build_rows = [
        [
            "reindex build (set_build + index_publish)",
            f"{job_seconds:.1f}",
            f"{n / job_seconds:,.0f}",
            f"{plain_seconds / job_seconds:.2f}×",
        ],
        ["baseline: plain FAISS add + write_index", f"{plain_seconds:.1f}", f"{n / plain_seconds:,.0f}", "1.00×"],
    ]
    if load_rate:
        build_rows.append(
            [f"reading embeddings from SQLite (vectors_load, {args.db_rows:,} rows)", "—", f"{load_rate:,.0f}", "—"]
        )
    print(table(["build", "seconds", "vectors/s", "throughput vs baseline"], build_rows))
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in manifest["phases"].items())
    print(f"\nPhases of that reindex build (the flush to disk runs beside measuring): {phases}\n")
    search_rows = [
        [
            "index_current().search",
            f"{percentile(ours, 50):.2f}",
            f"{percentile(ours, 95):.2f}",
            f"{recall(ours_found, truth_ids):.3f}",
        ],
        [
            "baseline: raw index.search",
            f"{percentile(raw, 50):.2f}",
            f"{percentile(raw, 95):.2f}",
            f"{recall(raw_found, truth_ids):.3f}",
        ],
    ]
    print(
        table(
            [f"search, k=10, 2 threads, {args.queries} held-out queries", "p50 ms", "p95 ms", "recall@10"], search_rows
        )
    )


if __name__ == "__main__":
    main()
