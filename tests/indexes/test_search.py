from __future__ import annotations

import pytest
from django.test import Client

from indexes.search import _fused, search
from indexes.services.reindex import index_rebuild
from indexes.store import reload
from operations import tokens
from tests.indexes.index_factories import RunCtx, entries_embedded, index_dir_isolated

TEXTS = [
    ("manual", "m-apple", "apple pie baking recipe"),
    ("experience", "e-kernel", "linux kernel memory tuning"),
    ("manual", "m-kernel", "kernel scheduler tuning guide"),
    ("document", "d-rivers", "rivers and lakes of the north"),
]


@pytest.fixture
def own_index_dir(settings, tmp_path):
    yield from index_dir_isolated(settings, tmp_path)


@pytest.fixture
def built(own_index_dir, db) -> dict[str, int]:
    ids = entries_embedded(TEXTS)
    index_rebuild(RunCtx(), {})
    return ids


@pytest.fixture
def viewer(auditor) -> Client:
    client = Client()
    client.force_login(auditor)
    return client


def titles(answer: dict) -> list[str]:
    return [hit["entry"]["external_id"] for hit in answer["results"]]


class SearchTests:
    def test_dense_search_ranks_the_closest_entries_first(self, built):
        answer = search(query="kernel tuning", k=2, mode="dense")
        assert set(titles(answer)) == {"e-kernel", "m-kernel"}
        assert answer["index_version"] == 1 and answer["took_ms"] > 0
        hit = answer["results"][0]
        assert set(hit["entry"]) == {"id", "kind", "external_id", "title"} and 0 < hit["score"] <= 1.0001

    def test_kind_filter_returns_only_that_kind(self, built):
        answer = search(query="kernel tuning", k=10, mode="dense", kind="manual")
        assert titles(answer)[0] == "m-kernel"
        assert {hit["entry"]["kind"] for hit in answer["results"]} == {"manual"}

    def test_entries_deleted_since_the_reindex_are_left_out(self, built):
        from indexes.models import Entry

        Entry.objects.filter(pk=built["m-kernel"]).delete()
        assert "m-kernel" not in titles(search(query="kernel tuning", k=10))

    def test_every_search_records_its_latency(self, built):
        reload.redis_call(lambda r: r.delete(reload.LATENCY_KEY))
        search(query="apple", k=1)
        search(query="apple", k=1)
        recent = reload.latencies_recent()
        assert len(recent) == 2 and recent[0]["mode"] == "dense" and recent[0]["ms"] > 0

    def test_hybrid_fuses_ranks_so_entries_found_by_both_come_first(self):
        fused = _fused([(1, 0.9), (2, 0.8), (3, 0.7)], [(3, 12.0), (4, 9.0)])
        assert [entry_id for entry_id, _ in fused] == [3, 1, 2, 4]


class SearchApiTests:
    @pytest.mark.parametrize(
        ("params", "message"),
        [
            ({"q": "  "}, "Type something to search for: the query is empty."),
            ({"q": "x", "k": "0"}, "k must be a whole number from 1 to 100; got 0."),
            ({"q": "x", "k": "101"}, "k must be a whole number from 1 to 100; got 101."),
            ({"q": "x", "k": "ten"}, "k must be a whole number from 1 to 100; got 'ten'."),
            ({"q": "x", "mode": "fuzzy"}, "Unknown search mode 'fuzzy'; use one of: dense, sparse, hybrid."),
            (
                {"q": "x", "kind": "poem"},
                "Unknown kind 'poem'; use one of: experience, manual, document, or leave it empty for all.",
            ),
        ],
    )
    def test_bad_input_is_400_with_a_sentence(self, built, viewer, params, message):
        response = viewer.get("/api/search", params)
        assert response.status_code == 400
        assert response.json() == {"error": message}

    def test_search_answers_results_took_ms_and_the_index_version(self, built, viewer):
        body = viewer.get("/api/search", {"q": "apple pie", "k": "1"}).json()
        assert set(body) == {"results", "took_ms", "index_version"}
        assert titles(body) == ["m-apple"] and body["index_version"] == 1

    def test_before_the_first_build_search_and_index_are_503_with_a_sentence(self, own_index_dir, viewer):
        for path in ("/api/search?q=apple", "/api/index"):
            response = viewer.get(path)
            assert response.status_code == 503
            assert response.json()["error"].startswith("No index has been built yet; run the reindex job")

    def test_sparse_mode_before_sparse_vectors_exist_is_503(self, built, viewer, settings, tmp_path):
        settings.DATA_DIR = tmp_path  # a data dir where no sparse generation ever ran
        response = viewer.get("/api/search", {"q": "apple", "mode": "sparse"})
        assert response.status_code == 503
        assert "run the sparse job" in response.json()["error"]

    def test_sparse_and_hybrid_modes_answer_once_sparse_vectors_exist(self, built, viewer, settings, tmp_path):
        from indexes.sparse.building import sparse_generate

        settings.DATA_DIR = tmp_path
        sparse_generate(RunCtx(), {})
        for mode in ("sparse", "hybrid"):
            body = viewer.get("/api/search", {"q": "kernel tuning", "mode": mode, "k": "2"}).json()
            assert set(titles(body)) == {"e-kernel", "m-kernel"}, mode
            assert body["index_version"] == 1

    def test_index_describes_the_served_index(self, built, viewer):
        body = viewer.get("/api/index").json()
        assert body["version"] == 1 and body["vectors"] == 4 and body["dimension"] == 384
        assert body["embedder"] == "hashing-384" and body["index_type"] == "Flat" and body["recall_at_10"] == 1.0
        assert body["size_bytes"] > 0 and body["built_at"]

    def test_only_dashboard_viewers_may_search(self, built, plain_staff, operator):
        anonymous = Client().get("/api/search", {"q": "apple"})
        assert anonymous.status_code in (401, 403) and "Log in" in anonymous.json()["error"]
        staff = Client()
        staff.force_login(plain_staff)
        denied = staff.get("/api/search", {"q": "apple"})
        assert denied.status_code == 403 and "permission" in denied.json()["error"]
        _, raw = tokens.token_create(user=operator, source="cli")
        with_token = Client().get("/api/index", HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert with_token.status_code == 200


class SearchCardTests:
    def test_the_dashboard_shows_the_search_box(self, built, viewer):
        html = viewer.get("/admin/ops/").content.decode()
        assert 'id="search-card"' in html and 'name="q"' in html

    def test_results_render_inline(self, built, viewer):
        response = viewer.get("/admin/ops/index/search/", {"q": "rivers lakes", "k": "3"}, HTTP_HX_REQUEST="true")
        html = response.content.decode()
        assert response.status_code == 200 and 'id="search-results"' in html
        assert "rivers and lakes of the north" in html and "from index version 1" in html

    def test_bad_input_shows_the_sentence_inline(self, built, viewer):
        response = viewer.get("/admin/ops/index/search/", {"q": ""}, HTTP_HX_REQUEST="true")
        assert response.status_code == 400
        assert "Type something to search for: the query is empty." in response.content.decode()
