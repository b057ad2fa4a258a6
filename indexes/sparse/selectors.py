"""Read what the sparse card shows."""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime

from indexes.models import Entry
from indexes.sparse.store import manifest_read

CARD = "sparse-card"


def sparse_status() -> dict[str, Any]:
    """The served version's vocabulary size, entries covered and generation time; `built` False before the first."""
    manifest = manifest_read()
    corpus = Entry.objects.count()
    if manifest is None:
        return {"built": False, "corpus": corpus}
    return {
        "built": True,
        "version": manifest["version"],
        "vocabulary": manifest["vocabulary"],
        "entries": manifest["entries"],
        "built_at": parse_datetime(manifest["built_at"]),
        "seconds": manifest.get("seconds"),
        "corpus": corpus,
    }
