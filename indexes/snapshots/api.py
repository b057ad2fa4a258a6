"""The snapshots API: list, create (a job), download, delete. Parse, call one service, respond."""

from __future__ import annotations

from django.http import FileResponse
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import audit_record
from indexes.snapshots.restore import restore_start
from indexes.snapshots.selectors import snapshot_json, snapshots_list
from indexes.snapshots.services import snapshot_delete, snapshot_get
from indexes.snapshots.storage import snapshot_file
from indexes.snapshots.uploads import SNAPSHOT_UPLOAD, snapshot_upload_import
from operations import services
from operations.api.permissions import CanRunJobs, ViewOrRun
from operations.api.serializers import job_json
from operations.uploads import UploadViewMixin


def _source(request) -> str:
    return "api" if request.auth is not None else "web"


class SnapshotListView(APIView):
    permission_classes = [ViewOrRun]

    def get(self, request):
        return Response({"results": [snapshot_json(s) for s in snapshots_list()]})

    def post(self, request):
        job = services.job_start(type="snapshot", params={}, actor=request.user, source="api")
        return Response(job_json(job), status=status.HTTP_201_CREATED)


class SnapshotDetailView(APIView):
    permission_classes = [CanRunJobs]

    def delete(self, request, snapshot_id: int):
        name = snapshot_delete(
            snapshot_id=snapshot_id, actor=request.user, source=_source(request), request=request._request
        )
        return Response({"deleted": snapshot_id, "name": name})


class SnapshotDownloadView(APIView):
    # A snapshot is the whole index: operators may fetch it, read-only roles may not.
    permission_classes = [CanRunJobs]

    def get(self, request, snapshot_id: int) -> FileResponse:
        snapshot = snapshot_get(snapshot_id=snapshot_id)
        path = snapshot_file(relative=snapshot.path)
        response = FileResponse(
            path.open("rb"), as_attachment=True, filename=f"{snapshot.name}.zip", content_type="application/zip"
        )
        audit_record(
            action="snapshot.download",
            actor=request.user,
            source=_source(request),
            target=snapshot.name,
            details={"snapshot_id": snapshot.pk, "bytes": path.stat().st_size},
            request=request._request,
        )
        return response


class SnapshotUploadView(UploadViewMixin, APIView):
    permission_classes = [CanRunJobs]
    parser_classes = [MultiPartParser]
    upload_cap = SNAPSHOT_UPLOAD

    def post(self, request):
        snapshot = snapshot_upload_import(request, source=_source(request))
        if snapshot is None:
            return Response({"error": "Send the snapshot ZIP as the multipart field 'file'."}, status=400)
        return Response(snapshot_json(snapshot), status=status.HTTP_201_CREATED)


class SnapshotRestoreView(APIView):
    permission_classes = [CanRunJobs]

    def post(self, request, snapshot_id: int):
        body = request.data if isinstance(request.data, dict) else {}
        confirm = body.get("confirm")
        job = restore_start(
            snapshot_id=snapshot_id,
            confirm=confirm if isinstance(confirm, str) else None,
            actor=request.user,
            source="api",
            request=request._request,
        )
        return Response(job_json(job), status=status.HTTP_201_CREATED)
