"""Checks of the corpus against its index and its embedder: each a few index probes, never a scan."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import ClassVar

from django.utils import timezone

from diagnostics.base import WARNING, Diagnostic, DiagnosticCheck
from indexes.embedders import embedder_spec
from indexes.job_types import EMBED, REINDEX, RESTORE
from indexes.models import EmbeddingState, Entry
from indexes.store import index_manifest

REINDEX_FIX = "Run the reindex job (Operations page, or `manage.py jobs run reindex`)."


@dataclasses.dataclass
class IndexStale(DiagnosticCheck):
    """The corpus changed more than a day ago and the index has not been built since."""

    jobs: ClassVar[tuple[str, ...]] = (REINDEX.name, RESTORE.name)
    late: timedelta = timedelta(days=1)

    def run(self) -> Iterator[Diagnostic]:
        manifest = index_manifest() or {}
        built_at = _when(manifest.get("built_at"))
        cutoff = timezone.now() - self.late
        # A change the index misses that is older than a day (entry_updated_at answers it from the index alone).
        missed = Entry.objects.filter(updated_at__lt=cutoff)
        if built_at is not None:
            missed = missed.filter(updated_at__gt=built_at)
        oldest = missed.order_by("updated_at").values_list("updated_at", flat=True).first()
        if oldest is None:
            return
        if built_at is None:
            message = f"The corpus has entries since {oldest:%Y-%m-%d %H:%M} UTC but no index was ever built: dense search answers nothing."
        else:
            message = (
                f"The index (built {built_at:%Y-%m-%d %H:%M} UTC) is older than the corpus by more than a day: "
                f"entries changed since {oldest:%Y-%m-%d %H:%M} UTC are not in it."
            )
        yield Diagnostic("index-stale", WARNING, message, REINDEX_FIX)


@dataclasses.dataclass
class EmbedderChanged(DiagnosticCheck):
    """Vectors of another embedder than the configured one, in the corpus or in the index."""

    jobs: ClassVar[tuple[str, ...]] = (EMBED.name, REINDEX.name, RESTORE.name)

    def run(self) -> Iterator[Diagnostic]:
        model_id = embedder_spec().model_id
        other = _other_model(model_id)
        if other is not None:
            yield Diagnostic(
                "embedder-changed",
                WARNING,
                f"The embedder is now {model_id}, but entries are still embedded with {other}: "
                "their vectors cannot be compared with a search's, so they are not found.",
                "Run the embed job (Operations page, or `manage.py jobs run embed`) to re-embed them, then reindex.",
            )
        built_with = (index_manifest() or {}).get("embedder")
        if built_with and built_with != model_id:
            yield Diagnostic(
                "index-embedder-changed",
                WARNING,
                f"The index was built with the embedder {built_with}, but the embedder is now {model_id}: "
                "searches compare vectors of two embedders.",
                "Re-embed the corpus with the embed job if it is not done, then "
                + REINDEX_FIX[0].lower()
                + REINDEX_FIX[1:],
            )


def _other_model(model_id: str) -> str | None:
    """An embedder other than `model_id` that ready entries were embedded with: two probes of
    entry_embedding_state_model (below and above it), where `!=` would walk every ready entry."""
    ready = Entry.objects.filter(embedding_state=EmbeddingState.READY)
    below = (
        ready.filter(embedding_model__lt=model_id).order_by("embedding_model").values_list("embedding_model", flat=True)
    )
    above = (
        ready.filter(embedding_model__gt=model_id).order_by("embedding_model").values_list("embedding_model", flat=True)
    )
    found = below.first() or above.first()
    if found is None and below.exists():
        return "an unknown embedder"  # embedded before the name was kept: the empty name
    return found


def _when(text: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


ALL = (IndexStale(), EmbedderChanged())
