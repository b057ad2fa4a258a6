"""Default embedder throughput: entries per second, against bare feature hashing in the same run.

    python bench/embedder.py --entries 20000

- embedder: `HashingEmbedder` (384 dimensions) as the pipeline calls it, in batches of
  CHLOPS_EMBED_BATCH_SIZE: word 1-2-grams (scikit-learn, 2^20 buckets) and 3-5 character n-grams
  inside words (numpy over the whole batch), sublinear tf, per-part L2, signed fold to 384, L2.
- baseline: scikit-learn's `HashingVectorizer` alone with the same analyzers hashed straight into
  384 signed buckets (no sublinear tf, no fold): the floor any hashing embedder pays for tokenising.
- pipeline: `entries_embed` over entries in a fresh SQLite database, in batches: read title and
  body, embed, write vector, model and state in one transaction per batch (Redis up for stats).

Texts are generated: a title and ~60 words of body drawn from a 5,000-word vocabulary.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import machine, migrate, setup_django, start_redis, table  # noqa: E402


def texts_generate(n: int, *, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(rng.choices(letters, k=rng.randint(3, 10))) for _ in range(5000)]
    return [
        (" ".join(rng.choices(vocabulary, k=6)).capitalize(), " ".join(rng.choices(vocabulary, k=60)) + ".")
        for _ in range(n)
    ]


def rate(fn, texts: list[str], batch: int) -> float:
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        fn(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--pipeline-entries", type=int, default=10_000)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from sklearn.feature_extraction.text import HashingVectorizer

    from indexes.embedders.hashing import HashingEmbedder
    from indexes.services.embedding import entry_text

    batch = settings.CHLOPS_EMBED_BATCH_SIZE
    pairs = texts_generate(args.entries)
    texts = [entry_text(title=t, body=b) for t, b in pairs]
    embedder = HashingEmbedder(dimension=384)
    embedder.embed(texts[:batch])  # warm up
    words = HashingVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b", n_features=384)
    chars = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=384)

    def baseline(chunk: list[str]) -> np.ndarray:
        return (words.transform(chunk) + chars.transform(chunk)).toarray()

    ours = rate(embedder.embed, texts, batch)
    base = rate(baseline, texts, batch)
    pipeline = pipeline_rate(pairs[: args.pipeline_entries], batch)
    print(f"Machine: {machine()}")
    print(f"{args.entries} generated entries, batches of {batch}, 384 dimensions\n")
    rows = [
        ["hashing embedder (default)", f"{ours:,.0f}", f"{ours / base:.2f}×"],
        ["baseline: HashingVectorizer alone", f"{base:,.0f}", "1.00×"],
        [
            f"pipeline: entries_embed, SQLite ({len(pairs[: args.pipeline_entries])} entries)",
            f"{pipeline:,.0f}",
            f"{pipeline / base:.2f}×",
        ],
    ]
    print(table(["run", "entries/s", "vs baseline"], rows))


def pipeline_rate(pairs: list[tuple[str, str]], batch: int) -> float:
    from indexes.models import EmbeddingState, Entry
    from indexes.services.embedding import entries_embed

    migrate()
    redis = start_redis()
    try:
        Entry.objects.bulk_create(
            [
                Entry(kind="manual", external_id=f"b{i}", title=t, body=b, content_hash=str(i))
                for i, (t, b) in enumerate(pairs)
            ],
            batch_size=2000,
        )
        ids = list(Entry.objects.order_by("pk").values_list("pk", flat=True))
        started = time.perf_counter()
        for i in range(0, len(ids), batch):
            entries_embed(ids=ids[i : i + batch])
        elapsed = time.perf_counter() - started
        assert Entry.objects.filter(embedding_state=EmbeddingState.READY).count() == len(ids)
        return len(ids) / elapsed
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait(10)


if __name__ == "__main__":
    main()
