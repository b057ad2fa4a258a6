"""Read the corpus."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from indexes.models import EmbeddingState, Entry

EXPORT_FIELDS = ("kind", "external_id", "title", "body", "tags", "metadata")


def entry_list(*, kinds: Sequence[str] = ()):
    """Entries of the given kinds (all when empty), in (kind, external_id) order."""
    qs = Entry.objects.all()
    return qs.filter(kind__in=kinds) if kinds else qs


def entry_count(*, kinds: Sequence[str] = ()) -> int:
    return entry_list(kinds=kinds).count()


def entries_pending_count() -> int:
    """Entries waiting to be embedded: the backlog a drain waits for (registered with operations)."""
    return Entry.objects.filter(embedding_state=EmbeddingState.PENDING).count()


def entry_rows_for_export(*, kinds: Sequence[str] = (), chunk_size: int = 2000) -> Iterator[tuple]:
    """Stream (kind, external_id, title, body, tags, metadata) without holding the corpus in memory."""
    rows = entry_list(kinds=kinds).order_by("kind", "external_id").values_list(*EXPORT_FIELDS)
    return rows.iterator(chunk_size=chunk_size)
