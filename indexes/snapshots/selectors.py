"""Reads of snapshots."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from indexes.models import IndexSnapshot

MANIFEST_FIELDS = ("version", "vectors", "dimension", "embedder", "index_type")


def snapshots_list() -> QuerySet[IndexSnapshot]:
    return IndexSnapshot.objects.select_related("created_by").order_by("-created_at", "-pk")


def snapshot_json(snapshot: IndexSnapshot) -> dict[str, Any]:
    return {
        "id": snapshot.pk,
        "name": snapshot.name,
        "created_at": snapshot.created_at.isoformat(),
        "created_by": snapshot.created_by.username if snapshot.created_by else None,
        "source": snapshot.source,
        "correlation_id": str(snapshot.correlation_id) if snapshot.correlation_id else None,
        "size_bytes": snapshot.size_bytes,
        **{key: snapshot.manifest.get(key) for key in MANIFEST_FIELDS},
        "files": snapshot.manifest.get("files", {}),
    }
