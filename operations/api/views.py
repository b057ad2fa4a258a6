"""The jobs and uploads API: parse, call one service, respond."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from operations import selectors, services, uploads
from operations.api.permissions import CanRunJobs, ViewOrRun
from operations.api.serializers import job_json
from operations.models import Job

SOURCE = "api"


class JobPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    max_page_size = 500
    page_size_query_param = "limit"


class JobListView(APIView):
    permission_classes = [ViewOrRun]

    def get(self, request):
        qs = selectors.job_list(state=request.query_params.get("state"), type=request.query_params.get("type"))
        paginator = JobPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return Response({"results": [job_json(j) for j in page], "next": paginator.get_next_link()})

    def post(self, request):
        body = request.data
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            return Response({"error": 'Send a JSON object like {"type": "canary", "params": {}}.'}, status=400)
        job = services.job_start(type=body["type"], params=body.get("params") or {}, actor=request.user, source=SOURCE)
        return Response(job_json(job), status=status.HTTP_201_CREATED)


class JobDetailView(APIView):
    permission_classes = [ViewOrRun]

    def get(self, request, job_id: int):
        return Response(job_json(get_object_or_404(Job.objects.select_related("requested_by"), pk=job_id), history=True))


class JobCancelView(APIView):
    permission_classes = [CanRunJobs]

    def post(self, request, job_id: int):
        job = services.job_cancel(job=get_object_or_404(Job, pk=job_id), actor=request.user, source=SOURCE)
        return Response(job_json(job), status=status.HTTP_202_ACCEPTED)


class JobRetryView(APIView):
    permission_classes = [CanRunJobs]

    def post(self, request, job_id: int):
        job = services.job_retry(job=get_object_or_404(Job, pk=job_id), actor=request.user, source=SOURCE)
        return Response(job_json(job), status=status.HTTP_201_CREATED)


@method_decorator(csrf_exempt, name="dispatch")  # DRF's SessionAuthentication enforces CSRF itself
class UploadView(APIView):
    permission_classes = [CanRunJobs]
    parser_classes = [MultiPartParser]

    def post(self, request):
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > request_cap():
            raise uploads.UploadTooLarge(uploads.too_large_message())
        handler = uploads.CappedUploadHandler(request._request)
        request._request.upload_handlers = [handler]
        file = request.FILES.get("file")
        if handler.exceeded:
            raise uploads.UploadTooLarge(uploads.too_large_message())
        if file is None:
            raise uploads.UploadMissing("Send the file as multipart/form-data in a field named 'file'.")
        upload = uploads.upload_store(file=file, actor=request.user, source=SOURCE)
        return Response({"id": str(upload.pk), "name": upload.name, "size": upload.size}, status=status.HTTP_201_CREATED)


def request_cap() -> int:
    from django.conf import settings

    # Multipart framing adds a little; a body this much over the cap cannot hold a file under it.
    return settings.CHLOPS_UPLOAD_MAX_BYTES + 64 * 1024
