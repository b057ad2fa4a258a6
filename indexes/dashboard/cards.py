"""The dashboard cards of `indexes`, registered with `operations` by the app's ready()."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from indexes.embedders.status import embedding_status
from indexes.ingest.cards import INGEST_CARD
from indexes.models import Kind
from indexes.snapshots.cards import SNAPSHOTS
from indexes.sparse.cards import SPARSE_CARD
from indexes.store import index_manifest
from operations.cards import Card

EMBEDDING_CARD = "embedding-card"
INDEX_CARD = "index-card"
SEARCH_CARD = "search-card"
MODES = ("dense", "sparse", "hybrid")


def index_card_context() -> dict[str, Any]:
    manifest = index_manifest()
    built_at = datetime.fromisoformat(manifest["built_at"]) if manifest and manifest.get("built_at") else None
    return {"manifest": manifest, "built_at": built_at}


def search_card_context() -> dict[str, Any]:
    return {"modes": MODES, "kinds": Kind.values, "search": None}


def embedding_card_context() -> dict[str, Any]:
    return {"embedding": embedding_status()}


EMBEDDING = Card(
    name=EMBEDDING_CARD, template="indexes/embedding_card.html", context=embedding_card_context, order=40
)
INDEX = Card(name=INDEX_CARD, template="indexes/index_card.html", context=index_card_context, order=50)
SEARCH = Card(name=SEARCH_CARD, template="indexes/search_card.html", context=search_card_context, order=60)
CARDS = (EMBEDDING, INDEX, SNAPSHOTS, SEARCH, SPARSE_CARD, INGEST_CARD)
