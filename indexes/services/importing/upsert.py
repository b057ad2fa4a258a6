"""Write one batch of rows: create the new, update the changed, leave the unchanged alone."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from indexes.models import EmbeddingState, Entry
from indexes.services.entries import entries_insert
from indexes.services.importing.rows import Row

MAX_ERRORS = 1000
QUERY_CHUNK = 5000  # keys per look-up query; below every backend's limit on parameters
TEXT_CHANGED_FIELDS = [
    "title",
    "body",
    "tags",
    "metadata",
    "content_hash",
    "embedding_state",
    "embedding_error",
    "updated_at",
]
META_CHANGED_FIELDS = ["tags", "metadata", "content_hash", "updated_at"]


@dataclass
class Tally:
    """What an import did so far; `result()` is the job's result (DESIGN §6)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    errors_omitted: int = 0

    @property
    def written(self) -> int:
        return self.created + self.updated

    def reject(self, number: int, message: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"row": number, "error": message})
        else:
            self.errors_omitted += 1

    def result(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "errors": sorted(self.errors, key=lambda error: error["row"]),
        }
        if self.errors_omitted:
            result["errors_omitted"] = self.errors_omitted
            result["errors_note"] = (
                f"Only the first {MAX_ERRORS} errors are listed; {self.errors_omitted} more rows were rejected."
            )
        return result


def batch_write(*, rows: Sequence[Row], tally: Tally) -> None:
    """Upsert rows on (kind, external_id) in one transaction: all of the batch or none of it."""
    if not rows:
        return
    with transaction.atomic():
        existing = _existing(rows)
        new: list[Row] = []
        changed: list[tuple[int, Row]] = []
        for row in rows:
            found = existing.get((row.kind, row.external_id))
            if found is None:
                new.append(row)
            elif found[1] == row.content_hash:
                tally.unchanged += 1
            else:
                changed.append((found[0], row))
        _insert(new)
        _update(changed)
    tally.created += len(new)
    tally.updated += len(changed)


def _insert(rows: list[Row]) -> None:
    entries_insert(
        rows=[(r.kind, r.external_id, r.title, r.body, r.tags, r.metadata, r.content_hash, "") for r in rows]
    )


def _existing(rows: Iterable[Row]) -> dict[tuple[str, str], tuple[int, str]]:
    by_kind: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_kind[row.kind].append(row.external_id)
    existing = {}
    for kind, ids in by_kind.items():
        for start in range(0, len(ids), QUERY_CHUNK):
            found = (
                Entry.objects.filter(kind=kind, external_id__in=ids[start : start + QUERY_CHUNK])
                .order_by()
                .values_list("external_id", "pk", "content_hash")
            )
            existing.update({(kind, external_id): (pk, content_hash) for external_id, pk, content_hash in found})
    return existing


def _update(changed: list[tuple[int, Row]]) -> None:
    if not changed:
        return
    before = {}
    pks = [pk for pk, _ in changed]
    for start in range(0, len(pks), QUERY_CHUNK):
        found = (
            Entry.objects.filter(pk__in=pks[start : start + QUERY_CHUNK]).order_by().values_list("pk", "title", "body")
        )
        before.update({pk: (title, body) for pk, title, body in found})
    now = timezone.now()
    text_changed, meta_changed = [], []
    for pk, row in changed:
        entry = Entry(
            pk=pk,
            title=row.title,
            body=row.body,
            tags=row.tags,
            metadata=row.metadata,
            content_hash=row.content_hash,
            updated_at=now,
        )
        if before.get(pk) != (row.title, row.body):
            # New text means new vectors: the embedder picks up what is pending.
            entry.embedding_state, entry.embedding_error = EmbeddingState.PENDING, ""
            text_changed.append(entry)
        else:
            meta_changed.append(entry)
    Entry.objects.bulk_update(text_changed, TEXT_CHANGED_FIELDS)
    Entry.objects.bulk_update(meta_changed, META_CHANGED_FIELDS)
