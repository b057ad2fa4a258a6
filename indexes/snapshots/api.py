"""The snapshots API: list, create (a job), download, delete. Parse, call one service, respond."""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import audit_record
from indexes.snapshots.selectors import snapshot_json, snapshots_list
from indexes.snapshots.services import snapshot_delete, snapshot_get, snapshot_import, snapshot_refused, staging_area
from indexes.snapshots.storage import snapshot_file
from indexes.snapshots.uploads import StagingUploadHandler
from operations import services
from operations.api.permissions import CanRunJobs, ViewOrRun
from operations.api.serializers import job_json


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


class SnapshotUploadView(APIView):
    permission_classes = [CanRunJobs]
    parser_classes = [MultiPartParser]

    def initial(self, request, *args, **kwargs):
        # Before anything reads the body: the upload streams into its own staging dir, capped.
        self.staging = staging_area()
        staged = self.staging.__enter__()
        self.handler = StagingUploadHandler(
            request._request, staged=staged, max_bytes=settings.CHLOPS_SNAPSHOT_MAX_BYTES
        )
        request._request.upload_handlers = [self.handler]
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        if getattr(self, "staging", None) is not None:
            self.staging.__exit__(None, None, None)
            self.staging = None
        return super().finalize_response(request, response, *args, **kwargs)

    def post(self, request):
        source, limit = _source(request), settings.CHLOPS_SNAPSHOT_MAX_BYTES
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > limit + 64 * 1024:  # room for the multipart headers
            return self._too_big(request, source=source, limit=limit)
        upload = request.FILES.get("file")
        if self.handler.too_big:
            return self._too_big(request, source=source, limit=limit)
        if upload is None or not self.handler.path.exists():
            return Response({"error": "Send the snapshot ZIP as the multipart field 'file'."}, status=400)
        snapshot = snapshot_import(
            zip_path=self.handler.path,
            staged=self.handler.staged,
            filename=upload.name or "upload.zip",
            actor=request.user,
            source=source,
            request=request._request,
        )
        return Response(snapshot_json(snapshot), status=status.HTTP_201_CREATED)

    def _too_big(self, request, *, source: str, limit: int) -> Response:
        message = f"The snapshot was refused: it is larger than {limit} bytes (CHLOPS_SNAPSHOT_MAX_BYTES)."
        snapshot_refused(reason=message, filename="upload", actor=request.user, source=source, request=request._request)
        return Response({"error": message}, status=413)


class SnapshotRestoreView(APIView):
    permission_classes = [CanRunJobs]

    def post(self, request, snapshot_id: int):
        from indexes.snapshots.restore import restore_start

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
