from __future__ import annotations

import pytest

from indexes.models import EmbeddingState, Entry

pytestmark = pytest.mark.django_db


def entry(external_id: str, *, kind: str = "manual", title: str = "", state: str = EmbeddingState.PENDING) -> Entry:
    return Entry.objects.create(
        kind=kind,
        external_id=external_id,
        title=title,
        content_hash=Entry.hash_content(title=title, body="", tags=[], metadata={}),
        embedding_state=state,
    )


class EntryAdminTests:
    def test_changelist_searches_external_id_and_title(self, client, superuser):
        entry("faiss-tuning", title="Tuning FAISS")
        entry("redis-ops", title="Redis on call")
        client.force_login(superuser)
        response = client.get("/admin/indexes/entry/", {"q": "faiss"})
        assert response.status_code == 200
        assert [e.external_id for e in response.context["cl"].result_list] == ["faiss-tuning"]
        response = client.get("/admin/indexes/entry/", {"q": "on call"})
        assert [e.external_id for e in response.context["cl"].result_list] == ["redis-ops"]

    def test_changelist_filters_by_kind_and_embedding_state(self, client, superuser):
        entry("a", kind="manual", state=EmbeddingState.READY)
        entry("b", kind="manual")
        entry("c", kind="document", state=EmbeddingState.READY)
        client.force_login(superuser)
        response = client.get("/admin/indexes/entry/", {"kind__exact": "manual", "embedding_state__exact": "ready"})
        assert [e.external_id for e in response.context["cl"].result_list] == ["a"]

    def test_operator_sees_entries_read_only(self, client, operator):
        item = entry("a", title="T")
        client.force_login(operator)
        assert client.get("/admin/indexes/entry/").status_code == 200
        response = client.get(f"/admin/indexes/entry/{item.pk}/change/")
        assert response.status_code == 200
        assert b'name="title"' not in response.content

    def test_editing_the_body_refreshes_the_hash_and_makes_the_embedding_pending(self, client, superuser):
        item = entry("a", title="T", state=EmbeddingState.READY)
        client.force_login(superuser)
        response = client.post(
            f"/admin/indexes/entry/{item.pk}/change/",
            {
                "kind": "manual",
                "external_id": "a",
                "title": "T",
                "body": "new body",
                "tags": '["x"]',
                "metadata": "{}",
                "embedding_state": "ready",
                "embedding_error": "",
            },
        )
        assert response.status_code == 302
        item.refresh_from_db()
        assert item.content_hash == Entry.hash_content(title="T", body="new body", tags=["x"], metadata={})
        assert item.embedding_state == EmbeddingState.PENDING
        assert item.content_hash in client.get(f"/admin/indexes/entry/{item.pk}/change/").content.decode()
