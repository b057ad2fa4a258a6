"""Build a FAISS index from normalised vectors: exact when small, else approximate, tuned to a recall target.

The default approximate index is 4-bit PQ fast-scan re-ranked on the full vectors ("pq"): on the
benchmark's million random 384-d vectors it holds recall@10 0.96 at under 10 ms p95, where HNSW
needed efSearch 2048 and 35 ms already at 60,000 vectors and an inverted-file front lost recall
(0.64 probing 384 of 1,024 lists); see docs/benchmarks.md. HNSW ("hnsw") and IVF-Flat ("ivf")
remain a setting away (CHLOPS_INDEX_APPROX), for corpora whose embeddings cluster.

With `write`, the files are written before recall is measured, and two things run beside it: the
exact neighbours of the recall sample, computed on a background thread with BLAS held to one
thread (writing keeps one core busy, so the other is free), and the flush to disk that `set_write`
leaves to a thread of its own. Overlapping two phases that each use every core (training and the
exact neighbours) made both slower: OpenMP and BLAS threads competed for two cores.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from typing import Any

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

RECALL_QUERIES = 200
RECALL_K = 10
TRUTH_BLOCK = 65_536  # corpus rows per matrix product when computing exact neighbours
CHUNK_SECONDS = 0.2  # aim for a checkpoint at least this often while adding
HNSW_EF_CONSTRUCTION = 64
HNSW_EF_SEARCH = (32, 64, 128, 256, 512, 1024, 2048, 4096)
PQ_TRAIN_MAX = 65_536
PQ_K_FACTORS = (5, 10, 20, 30, 50, 100, 200, 500)

Report = Callable[[str, int, int], None]  # (phase, done, total)
Write = Callable[[faiss.Index], Any]  # writes the built index, calling the build's checkpoint as it goes


@dataclass
class Built:
    index: faiss.Index
    index_type: str
    recall_at_10: float
    search_params: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    written: Any = None  # what `write` returned


def _no_report(phase: str, done: int, total: int) -> None:
    pass


def index_build(
    vectors: np.ndarray,
    *,
    exact_max: int,
    approx: str = "pq",
    recall_target: float = 0.95,
    hnsw_m: int = 32,
    report: Report = _no_report,
    checkpoint: Callable[[], None] = lambda: None,
    write: Write | None = None,
) -> Built:
    """Build an inner-product index over `vectors` (rows L2-normalised, so the score is the cosine).

    `write`, if given, is called with the index once it holds every vector, before recall is
    measured; what it returns lands in `Built.written`.
    """
    started = time.perf_counter()
    n, dim = vectors.shape
    if n <= exact_max:
        index, index_type = faiss.IndexFlatIP(dim), "Flat"
    elif approx == "ivf":
        index, index_type = _ivf_trained(vectors, report=report, checkpoint=checkpoint)
    elif approx == "pq":
        index, index_type = _pq_refine_trained(vectors, report=report, checkpoint=checkpoint)
    else:
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index_type = f"HNSW{hnsw_m},Flat"
    _add_in_chunks(index, vectors, report=report, checkpoint=checkpoint)
    exact = index_type == "Flat"
    written = None
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-recall")
    try:
        # Beside a write, on the core it leaves free; else on every core while the caller waits.
        sample = None if exact else pool.submit(_recall_sample, vectors, blas_threads=1 if write else None)
        if write is not None:
            report("writing", 0, 1)
            written = write(index)
        if exact:
            recall, params = 1.0, {}  # exact search is its own ground truth
        else:
            report("measuring", 0, 1)
            recall, params = _tune(
                index, vectors, _result(sample, checkpoint), target=recall_target, checkpoint=checkpoint
            )
            report("measuring", 1, 1)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # a cancelled build need not wait for pure arithmetic
    return Built(
        index=index,
        index_type=index_type,
        recall_at_10=recall,
        search_params=params,
        seconds=time.perf_counter() - started,
        written=written,
    )


def _ivf_trained(vectors: np.ndarray, *, report: Report, checkpoint: Callable[[], None]) -> tuple[faiss.Index, str]:
    n, dim = vectors.shape
    nlist = max(1, min(int(4 * math.sqrt(n)), n // 39))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = _sample(vectors, min(n, 64 * nlist), seed=1234)
    report("training", 0, 1)
    checkpoint()
    index.train(sample)
    report("training", 1, 1)
    return index, f"IVF{nlist},Flat"


def _pq_refine_trained(
    vectors: np.ndarray, *, report: Report, checkpoint: Callable[[], None]
) -> tuple[faiss.Index, str]:
    """4-bit PQ scanned with SIMD (fast-scan) for candidates, re-ranked exactly on the stored vectors."""
    dim = vectors.shape[1]
    m = next(m for m in range(dim // 2, 0, -1) if dim % m == 0)
    index = faiss.IndexRefineFlat(faiss.IndexPQFastScan(dim, m, 4, faiss.METRIC_INNER_PRODUCT))
    report("training", 0, 1)
    checkpoint()
    index.train(_sample(vectors, PQ_TRAIN_MAX, seed=1234))
    report("training", 1, 1)
    return index, f"PQ{m}x4fs,RFlat"


def _add_in_chunks(index: faiss.Index, vectors: np.ndarray, *, report: Report, checkpoint: Callable[[], None]) -> None:
    if isinstance(index, faiss.IndexRefine):
        # The flat re-ranking store grows by reallocation and copy on every add, which cost more than
        # twice one add of everything at a million vectors; only the codes are added in chunks.
        _add_in_chunks(index.base_index, vectors, report=report, checkpoint=checkpoint)
        checkpoint()
        index.refine_index.add(vectors)
        index.ntotal = index.base_index.ntotal
        return
    n = vectors.shape[0]
    done, chunk = 0, 2000
    report("adding", 0, n)
    while done < n:
        checkpoint()
        began = time.perf_counter()
        stop = min(n, done + chunk)
        index.add(vectors[done:stop])
        elapsed = time.perf_counter() - began
        # Size the next chunk so that one add takes about CHUNK_SECONDS, keeping cancel prompt.
        chunk = int(max(500, min(200_000, (stop - done) * CHUNK_SECONDS / max(elapsed, 1e-4))))
        done = stop
        report("adding", done, n)


def _sample_rows(n: int, size: int, *, seed: int) -> np.ndarray:
    if size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def _sample(vectors: np.ndarray, size: int, *, seed: int) -> np.ndarray:
    return np.ascontiguousarray(vectors[_sample_rows(vectors.shape[0], size, seed=seed)])


def search_parameters(index_type: str, params: dict[str, Any], selector=None) -> faiss.SearchParameters:
    """The per-call search parameters of an index of this type (tuned values, optional id filter)."""
    if index_type.startswith("HNSW"):
        found = faiss.SearchParametersHNSW(efSearch=int(params.get("efSearch", 64)))
    elif index_type.startswith("IVF"):
        found = faiss.SearchParametersIVF(nprobe=int(params.get("nprobe", 1)))
    elif index_type.startswith("PQ"):
        found = faiss.IndexRefineSearchParameters(k_factor=float(params.get("k_factor", 10)))
    else:
        found = faiss.SearchParameters()
    if selector is not None:
        found.sel = selector
    return found


def supports_selector(index_type: str) -> bool:
    # Fast-scan PQ refuses id selectors: a filtered search over-fetches and filters instead.
    return not index_type.startswith("PQ")


def recall_measure(
    index: faiss.Index,
    *,
    index_type: str,
    params: dict[str, Any],
    queries: np.ndarray,
    truth: np.ndarray,
    exclude: np.ndarray | None = None,
) -> float:
    """Recall@10 of `index` searched with `params`, against exact neighbours `truth` (10 per query).

    `exclude` names each query's own position when the queries come from the corpus: a vector is
    always its own nearest neighbour, which would hand every query one free hit.
    """
    extra = 0 if exclude is None else 1
    _, found = index.search(queries, RECALL_K + extra, params=search_parameters(index_type, params))
    return _recall_of(found, truth, exclude)


def _recall_of(found: np.ndarray, truth: np.ndarray, exclude: np.ndarray | None) -> float:
    """The share of `truth` among the first 10 of each row of `found`, each query's own position left out."""
    hits = 0
    for i, (row, expected) in enumerate(zip(found, truth, strict=True)):
        kept = [p for p in row.tolist() if exclude is None or p != exclude[i]][:RECALL_K]
        hits += len(set(kept) & set(expected.tolist()))
    return hits / truth.size


def truth_exact(vectors: np.ndarray, queries: np.ndarray, *, exclude: np.ndarray | None = None) -> np.ndarray:
    """The exact 10 nearest positions of each query (without the query's own position, if given).

    A matrix product per block of the corpus and a partial sort: numpy's BLAS did this about 3×
    faster than `faiss.knn` on the benchmark machine, and it is the costliest part of measuring.
    """
    want = RECALL_K + (0 if exclude is None else 1)
    scores_parts, positions_parts = [], []
    for start in range(0, len(vectors), TRUTH_BLOCK):
        scores = queries @ vectors[start : start + TRUTH_BLOCK].T
        top = np.argpartition(-scores, min(want, scores.shape[1] - 1), axis=1)[:, :want]
        scores_parts.append(np.take_along_axis(scores, top, axis=1))
        positions_parts.append(top + start)
    scores, positions = np.concatenate(scores_parts, axis=1), np.concatenate(positions_parts, axis=1)
    found = np.take_along_axis(positions, np.argsort(-scores, axis=1, kind="stable")[:, :want], axis=1)
    if exclude is None:
        return found
    return np.array([[p for p in row if p != own][:RECALL_K] for row, own in zip(found.tolist(), exclude, strict=True)])


@dataclass
class _Sample:
    rows: np.ndarray  # corpus positions of the queries; each is left out of its own answer
    queries: np.ndarray
    truth: np.ndarray


def _recall_sample(vectors: np.ndarray, *, blas_threads: int | None) -> _Sample:
    rows = _sample_rows(vectors.shape[0], RECALL_QUERIES, seed=4321)
    queries = np.ascontiguousarray(vectors[rows])
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        truth = truth_exact(vectors, queries, exclude=rows)
    return _Sample(rows=rows, queries=queries, truth=truth)


def _result(future: Future, checkpoint: Callable[[], None]) -> Any:
    """Wait for a background computation, staying cancellable meanwhile."""
    while not future.done():
        checkpoint()
        futures_wait([future], timeout=0.2)
    return future.result()


def _tune(
    index: faiss.Index, vectors: np.ndarray, sample: _Sample, *, target: float, checkpoint: Callable[[], None]
) -> tuple[float, dict[str, Any]]:
    """Raise efSearch, k_factor or nprobe until recall@10 on a sample of the corpus reaches target."""
    checkpoint()
    if isinstance(index, faiss.IndexRefine):
        return _tune_refine(index, vectors, sample, target=target)
    queries, truth, rows = sample.queries, sample.truth, sample.rows
    name, candidates, index_type = _tunable(index)
    recall, chosen = 0.0, {}
    for value in candidates:
        checkpoint()
        chosen = {name: int(value)}
        recall = recall_measure(index, index_type=index_type, params=chosen, queries=queries, truth=truth, exclude=rows)
        if recall >= target:
            break
    return round(recall, 4), chosen


def _tune_refine(
    index: faiss.IndexRefine, vectors: np.ndarray, sample: _Sample, *, target: float
) -> tuple[float, dict[str, Any]]:
    """The smallest k_factor whose recall@10 reaches target, from one search of the codes.

    A re-ranked search takes the codes' best k × k_factor candidates and keeps the k best by exact
    score. Searching the codes once, as deep as the largest k_factor, and re-ranking each prefix
    here gives the same answers as one search per k_factor: at a million vectors one deep search
    cost what one shallow one did (the codes are scanned in full either way).
    """
    want = RECALL_K + 1  # one more, since each query's own position is dropped
    _, candidates = index.base_index.search(sample.queries, want * PQ_K_FACTORS[-1])
    exact = np.full(candidates.shape, -np.inf, dtype=np.float32)
    scored, recall, chosen = 0, 0.0, {}
    for k_factor in PQ_K_FACTORS:
        depth = min(want * k_factor, candidates.shape[1])
        for i, query in enumerate(sample.queries):  # score only the candidates this k_factor adds
            fresh = candidates[i, scored:depth]
            fresh = fresh[fresh >= 0]  # -1 pads when the index holds fewer vectors than asked
            exact[i, scored : scored + len(fresh)] = vectors[fresh] @ query
        scored = depth
        order = np.argsort(-exact[:, :depth], axis=1, kind="stable")[:, :want]
        found = np.take_along_axis(candidates[:, :depth], order, axis=1)
        recall, chosen = _recall_of(found, sample.truth, sample.rows), {"k_factor": k_factor}
        if recall >= target:
            break
    return round(recall, 4), chosen


def _tunable(index: faiss.Index) -> tuple[str, tuple, str]:
    """The search parameter that trades speed for recall in this index, its candidate values, its family."""
    if isinstance(index, faiss.IndexHNSWFlat):
        return "efSearch", HNSW_EF_SEARCH, "HNSW"
    if isinstance(index, faiss.IndexRefine):
        return "k_factor", PQ_K_FACTORS, "PQ"
    nlist = faiss.extract_index_ivf(index).nlist
    return "nprobe", tuple(sorted({min(nlist, p) for p in (8, 16, 32, 64, 128, 256, 512, 1024, nlist)})), "IVF"
