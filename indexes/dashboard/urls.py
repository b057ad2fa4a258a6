"""The index and search cards' endpoints, mounted at /admin/ops/index/."""

from __future__ import annotations

from django.urls import path

from indexes.dashboard import views
from indexes.snapshots import views as snapshots

urlpatterns = [
    path("reindex/", views.reindex_start, name="ops-index-reindex"),
    path("search/", views.search_results, name="ops-index-search"),
    path("snapshots/create/", snapshots.snapshot_create, name="ops-snapshot-create"),
    path("snapshots/upload/", snapshots.snapshot_upload, name="ops-snapshot-upload"),
    path("snapshots/<int:snapshot_id>/restore/", snapshots.snapshot_restore, name="ops-snapshot-restore"),
    path("snapshots/<int:snapshot_id>/delete/", snapshots.snapshot_remove, name="ops-snapshot-delete"),
]
