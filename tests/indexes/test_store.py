from __future__ import annotations

import json
import os

import faiss
import numpy as np
import pytest

from indexes.store import (
    files,
    index_build,
    index_current,
    index_manifest,
    index_publish,
    reload,
    set_write,
    staging_dir,
    staging_leftovers_remove,
)
from indexes.store.build import PQ_K_FACTORS, _Sample, _tune_refine, recall_measure, truth_exact
from tests.conftest import wait_for
from tests.indexes.index_factories import index_dir_isolated, tree_digest, unit_rows

KINDS = ["experience", "manual", "document"]


@pytest.fixture
def own_index_dir(settings, tmp_path):
    yield from index_dir_isolated(settings, tmp_path)


def publish(vectors: np.ndarray, *, exact_max: int = 1000, kinds: np.ndarray | None = None) -> dict:
    built = index_build(vectors, exact_max=exact_max)
    n = len(vectors)
    with staging_dir() as staged:
        set_write(staged=staged, built=built, ids=np.arange(1, n + 1), kinds=kinds if kinds is not None else np.ones(n))
        manifest = {
            "vectors": n,
            "dimension": vectors.shape[1],
            "embedder": "hashing-384",
            "index_type": built.index_type,
            "search_params": built.search_params,
            "recall_at_10": built.recall_at_10,
            "kinds": KINDS,
        }
        return index_publish(staged=staged, manifest=manifest)


class StoreTests:
    def test_publish_swaps_current_keeps_previous_and_drops_older(self, own_index_dir):
        versions = [publish(unit_rows(50, seed=s))["version"] for s in range(3)]
        assert versions == [1, 2, 3]
        assert os.readlink(own_index_dir / "current") == "v000003"
        assert os.readlink(own_index_dir / "previous") == "v000002"
        assert sorted(p.name for p in own_index_dir.iterdir()) == ["current", "previous", "v000002", "v000003"]

    def test_manifest_carries_checksums_sizes_and_version(self, own_index_dir):
        sealed = publish(unit_rows(40))
        served = own_index_dir / "current"
        on_disk = json.loads((served / "manifest.json").read_text())
        assert on_disk == sealed == index_manifest()
        assert set(on_disk["files"]) == {"index.faiss", "ids.npy", "kinds.npy"}
        assert on_disk["files"]["index.faiss"] == files.file_sha256(served / "index.faiss")
        assert on_disk["size_bytes"] == sum((served / name).stat().st_size for name in on_disk["files"])

    def test_a_failed_build_leaves_the_served_files_untouched(self, own_index_dir):
        publish(unit_rows(30))
        before = tree_digest(own_index_dir)
        with pytest.raises(RuntimeError), staging_dir() as staged:
            (staged / "index.faiss").write_bytes(b"half written")
            raise RuntimeError("the build failed")
        assert tree_digest(own_index_dir) == before
        assert index_current().version == 1

    def test_leftovers_of_a_killed_writer_are_removed_by_the_next(self, own_index_dir):
        publish(unit_rows(30))
        (own_index_dir / ".build-dead").mkdir()
        (own_index_dir / ".build-dead" / "index.faiss").write_bytes(b"x")
        assert staging_leftovers_remove() == [".build-dead"]
        assert not list(own_index_dir.glob(".build-*"))

    def test_no_index_before_the_first_build(self, own_index_dir):
        from indexes.store import IndexMissing

        assert index_manifest() is None
        with pytest.raises(IndexMissing) as caught:
            index_current()
        assert caught.value.status == 503
        assert "run the reindex job" in caught.value.message


class ReaderTests:
    def test_reader_reloads_when_a_new_version_is_published_and_a_held_bundle_stays_whole(self, own_index_dir):
        old_rows, new_rows = unit_rows(60, seed=1), unit_rows(80, seed=2)
        publish(old_rows)
        held = index_current()
        assert index_current() is held
        publish(new_rows)
        assert reload.published_version() == 2
        fresh = index_current()
        assert fresh.version == 2 and fresh.index.ntotal == 80
        assert held.version == 1 and held.index.ntotal == 60
        assert held.search(old_rows[:1], 1)[0][0][0] == 1

    def test_a_large_new_index_loads_in_the_background_while_searches_use_the_old(self, own_index_dir, settings):
        settings.CHLOPS_INDEX_RELOAD_SYNC_MAX_BYTES = 0
        publish(unit_rows(20))
        assert index_current().version == 1  # nothing loaded yet: the first load is synchronous
        publish(unit_rows(30))
        assert index_current().version == 1
        wait_for(lambda: index_current().version == 2, timeout=10, message="the background load of version 2")

    def test_reader_follows_the_disk_when_redis_has_no_version(self, own_index_dir):
        publish(unit_rows(20))
        assert index_current().version == 1
        publish(unit_rows(25))
        reload.redis_call(lambda r: r.delete(reload.VERSION_KEY))
        assert index_current().version == 2

    def test_search_returns_entry_ids_best_first_and_filters_by_kind(self, own_index_dir):
        rows = unit_rows(100, seed=3)
        kinds = np.array([i % 3 for i in range(100)], dtype=np.uint8)
        publish(rows, kinds=kinds)
        bundle = index_current()
        hits = bundle.search(rows[4:5], 5)[0]
        assert hits[0][0] == 5 and hits[0][1] == pytest.approx(1.0, abs=1e-5)
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        manuals = bundle.search(rows[4:5], 10, kind="manual")[0]
        assert len(manuals) == 10 and all((entry_id - 1) % 3 == 1 for entry_id, _ in manuals)
        assert bundle.search(rows[4:5], 10, kind="nothing")[0] == []

    @pytest.mark.parametrize("approx", ["pq", "hnsw"])
    def test_kind_filter_on_approximate_indexes_fills_k_with_that_kind(self, own_index_dir, approx, settings):
        rows = unit_rows(3000, seed=6)
        kinds = np.array([0 if i % 50 else 2 for i in range(3000)], dtype=np.uint8)  # 2% documents
        built = index_build(rows, exact_max=100, approx=approx)
        with staging_dir() as staged:
            set_write(staged=staged, built=built, ids=np.arange(1, 3001), kinds=kinds)
            manifest = {"index_type": built.index_type, "search_params": built.search_params, "kinds": KINDS}
            index_publish(staged=staged, manifest=manifest)
        hits = index_current().search(rows[:1], 10, kind="document")[0]
        assert len(hits) == 10 and all((entry_id - 1) % 50 == 0 for entry_id, _ in hits)


class BuildTests:
    def test_small_corpora_get_an_exact_index(self):
        built = index_build(unit_rows(200), exact_max=200)
        assert (built.index_type, built.recall_at_10) == ("Flat", 1.0)

    @pytest.mark.parametrize("approx", ["pq", "hnsw", "ivf"])
    def test_large_corpora_get_an_approximate_index_tuned_to_the_recall_target(self, approx):
        built = index_build(unit_rows(3000, seed=5), exact_max=1000, approx=approx, recall_target=0.95)
        assert built.index_type.startswith(approx.upper())
        assert built.recall_at_10 >= 0.95
        assert built.search_params

    @pytest.mark.parametrize("target", [0.8, 0.9, 0.99])
    def test_re_ranked_tuning_from_one_deep_search_matches_searching_per_k_factor(self, target):
        rows = unit_rows(3000, seed=7)
        built = index_build(rows, exact_max=1000, approx="pq")
        sample = np.arange(0, 3000, 15)
        queries = np.ascontiguousarray(rows[sample])
        truth = truth_exact(rows, queries, exclude=sample)
        recall, params = _tune_refine(
            built.index, rows, _Sample(rows=sample, queries=queries, truth=truth), target=target
        )
        searched = recall_measure(
            built.index, index_type="PQ", params=params, queries=queries, truth=truth, exclude=sample
        )
        assert recall >= target and abs(recall - searched) <= 0.002  # equal but for ties in exact scores
        smaller = (
            PQ_K_FACTORS[PQ_K_FACTORS.index(params["k_factor"]) - 1] if params["k_factor"] > PQ_K_FACTORS[0] else None
        )
        if smaller:
            assert (
                recall_measure(
                    built.index,
                    index_type="PQ",
                    params={"k_factor": smaller},
                    queries=queries,
                    truth=truth,
                    exclude=sample,
                )
                < target
            )


class Cancelled(Exception):
    pass


class WriteTests:
    def test_set_write_returns_the_checksums_of_what_it_wrote(self, own_index_dir):
        rows = unit_rows(3000, seed=8)
        built = index_build(rows, exact_max=1000)
        with staging_dir() as staged:
            hashes = set_write(staged=staged, built=built, ids=np.arange(1, 3001), kinds=np.ones(3000))
            assert hashes == {name: files.file_sha256(staged / name) for name in files.DATA_FILES}
            sealed = index_publish(staged=staged, manifest={"index_type": built.index_type}, hashes=hashes)
        assert sealed["files"] == hashes

    def test_a_cancel_while_writing_raises_the_cancel_and_writes_nothing_more(self, own_index_dir):
        built = index_build(unit_rows(3000, seed=9), exact_max=1000)

        def checkpoint() -> None:
            raise Cancelled

        with staging_dir() as staged:
            with pytest.raises(Cancelled):
                set_write(
                    staged=staged, built=built, ids=np.arange(1, 3001), kinds=np.ones(3000), checkpoint=checkpoint
                )
            assert sorted(p.name for p in staged.iterdir()) == ["index.faiss"]
            assert (staged / "index.faiss").stat().st_size == 0

    def test_the_build_hands_the_full_index_to_the_writer_and_keeps_its_answer(self, own_index_dir):
        rows = unit_rows(3000, seed=10)
        phases: list[str] = []
        with staging_dir() as staged:
            built = index_build(
                rows,
                exact_max=1000,
                report=lambda phase, done, total: phases.append(phase),
                write=lambda index: set_write(staged=staged, built=index, ids=np.arange(1, 3001), kinds=np.ones(3000)),
            )
            assert built.written == {name: files.file_sha256(staged / name) for name in files.DATA_FILES}
            assert faiss.read_index(str(staged / "index.faiss")).ntotal == 3000
        # Written before measuring, so that the flush to disk overlaps the measuring.
        assert phases.index("writing") < phases.index("measuring")
