"""Upsert the document entries of one repository and remove those that vanished from it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from indexes.models import EmbeddingState, Entry, Kind
from indexes.services.entries import entries_insert

MAX_EXTERNAL_ID = Entry._meta.get_field("external_id").max_length
MAX_TITLE = Entry._meta.get_field("title").max_length
QUERY_CHUNK = 1000  # keys per look-up or delete; below every backend's limit on parameters
UPDATE_BATCH = 500


@dataclass(slots=True)
class Document:
    external_id: str
    title: str
    body: str
    metadata: dict[str, Any]


@dataclass
class WriteTally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    seen: set[str] = field(default_factory=set)


def external_id_for(*, repository: str, path: str, chunk: int) -> str:
    """`<repo>:<path>#<chunk>`, or its head and a digest when that is longer than the column allows."""
    ident = f"{repository}:{path}#{chunk}"
    if len(ident) <= MAX_EXTERNAL_ID:
        return ident
    digest = hashlib.sha256(ident.encode()).hexdigest()[:16]
    return f"{ident[: MAX_EXTERNAL_ID - 17]}~{digest}"


def title_clip(title: str) -> str:
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…"


def documents_write(*, origin: str, documents: list[Document], tally: WriteTally) -> None:
    """Create new documents, update changed ones, in one transaction.

    A new title or body makes the entry's embedding pending and counts as updated. Only new
    metadata (the same text at a newer commit) is written too, but counts as unchanged.
    """
    if not documents:
        return
    ids = [doc.external_id for doc in documents]
    tally.seen.update(ids)
    with transaction.atomic():
        existing = {}
        for start in range(0, len(ids), QUERY_CHUNK):
            found = Entry.objects.filter(kind=Kind.DOCUMENT, external_id__in=ids[start : start + QUERY_CHUNK])
            for row in found.order_by().values("pk", "external_id", "title", "body", "content_hash", "origin"):
                existing[row["external_id"]] = row
        now = timezone.now()
        new, text_changed, meta_changed = [], [], []
        for doc in documents:
            content_hash = Entry.hash_content(title=doc.title, body=doc.body, tags=[], metadata=doc.metadata)
            before = existing.get(doc.external_id)
            if before is None:
                new.append(_entry(doc, origin=origin, content_hash=content_hash, now=now))
                continue
            if before["content_hash"] == content_hash and before["origin"] == origin:
                tally.unchanged += 1
                continue
            entry = _entry(doc, origin=origin, content_hash=content_hash, now=now, pk=before["pk"])
            if (before["title"], before["body"]) != (doc.title, doc.body):
                text_changed.append(entry)
            else:
                meta_changed.append(entry)
        _insert(new)
        Entry.objects.bulk_update(
            text_changed,
            [
                "title",
                "body",
                "tags",
                "metadata",
                "content_hash",
                "origin",
                "embedding_state",
                "embedding_error",
                "updated_at",
            ],
            batch_size=UPDATE_BATCH,
        )
        Entry.objects.bulk_update(
            meta_changed, ["metadata", "content_hash", "origin", "updated_at"], batch_size=UPDATE_BATCH
        )
    tally.created += len(new)
    tally.updated += len(text_changed)
    tally.unchanged += len(meta_changed)


def _insert(entries: list[Entry]) -> None:
    entries_insert(
        rows=[(e.kind, e.external_id, e.title, e.body, e.tags, e.metadata, e.content_hash, e.origin) for e in entries]
    )


def _entry(doc: Document, *, origin: str, content_hash: str, now: Any, pk: int | None = None) -> Entry:
    return Entry(
        pk=pk,
        kind=Kind.DOCUMENT,
        external_id=doc.external_id,
        title=doc.title,
        body=doc.body,
        tags=[],
        metadata=doc.metadata,
        content_hash=content_hash,
        origin=origin,
        embedding_state=EmbeddingState.PENDING,
        embedding_error="",
        created_at=now,
        updated_at=now,
    )


def vanished_pks(*, origin: str, seen: set[str]) -> list[int]:
    """Primary keys of the repository's documents that this ingest did not see."""
    rows = Entry.objects.filter(origin=origin, kind=Kind.DOCUMENT).order_by().values_list("pk", "external_id")
    return [pk for pk, external_id in rows.iterator(chunk_size=5000) if external_id not in seen]


def entries_remove(*, pks: Iterable[int]) -> int:
    """Delete entries by primary key, in chunks; return how many went."""
    pks = list(pks)
    removed = 0
    for start in range(0, len(pks), QUERY_CHUNK):
        removed += Entry.objects.filter(pk__in=pks[start : start + QUERY_CHUNK]).delete()[0]
    return removed
