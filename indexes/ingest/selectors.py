"""Read what the repositories card shows."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max

from indexes.ingest.repository import Repository
from indexes.models import Entry, Kind
from operations.models import Job

CARD = "ingest-card"
SHOWN = 20


def repositories_list(*, limit: int = SHOWN) -> list[dict[str, Any]]:
    """The ingested repositories: documents, last change, commit and latest ingest job, most recent first."""
    rows = list(
        Entry.objects.filter(kind=Kind.DOCUMENT)
        .exclude(origin="")
        .values("origin")
        .annotate(documents=Count("id"), changed_at=Max("updated_at"))
        .order_by("-changed_at")[:limit]
    )
    keys = {Repository(clone_url="", name=row["origin"]).lock_key: row for row in rows}
    for job in Job.objects.filter(type="ingest", lock_key__in=list(keys)).order_by("-created_at"):
        keys[job.lock_key].setdefault("job", job)
    for row in rows:
        newest = Entry.objects.filter(kind=Kind.DOCUMENT, origin=row["origin"]).order_by("-updated_at", "-pk")
        row["commit"] = (newest.values_list("metadata", flat=True).first() or {}).get("commit", "")
        row.setdefault("job", None)
        # What was typed last time (an ssh user, say) clones again; the origin alone may not.
        row["url"] = (
            row["job"].params.get("url", row["origin"]) if row["job"] else row["origin"].removeprefix("file://")
        )
    return rows
