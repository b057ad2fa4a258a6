"""Routes of `indexes` under /api/."""

from __future__ import annotations

from django.urls import path

from indexes.api.views import IndexView, SearchView
from indexes.peers import api as peers_api
from indexes.snapshots import api as snapshots_api
from indexes.views import ExportDownloadView

urlpatterns = [
    path("index", IndexView.as_view(), name="api-index"),
    path("search", SearchView.as_view(), name="api-search"),
    path("snapshots", snapshots_api.SnapshotListView.as_view(), name="api-snapshots"),
    path("snapshots/upload", snapshots_api.SnapshotUploadView.as_view(), name="api-snapshot-upload"),
    path("snapshots/<int:snapshot_id>", snapshots_api.SnapshotDetailView.as_view(), name="api-snapshot"),
    path(
        "snapshots/<int:snapshot_id>/download",
        snapshots_api.SnapshotDownloadView.as_view(),
        name="api-snapshot-download",
    ),
    path(
        "snapshots/<int:snapshot_id>/restore",
        snapshots_api.SnapshotRestoreView.as_view(),
        name="api-snapshot-restore",
    ),
    path("sync/identity", peers_api.IdentityView.as_view(), name="api-sync-identity"),
    path("peers", peers_api.PeerListView.as_view(), name="api-peers"),
    path("peers/<str:name>", peers_api.PeerDetailView.as_view(), name="api-peer"),
    path("peers/<str:name>/verify", peers_api.PeerVerifyView.as_view(), name="api-peer-verify"),
    path("exports/<path:name>", ExportDownloadView.as_view(), name="api-export-download"),
]
