"""The jobs and uploads API: parse, call one service, respond."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from operations import selectors, services, uploads
from operations.api import paging
from operations.api.permissions import CanRunJobs, ViewOrRun
from operations.api.serializers import job_json
from operations.models import Job

SOURCE = "api"


class JobListView(APIView):
    permission_classes = [ViewOrRun]

    def get(self, request):
        query = request.query_params
        page = selectors.job_page(
            state=query.get("state"), type=query.get("type"), before=paging.cursor(query), size=paging.size(query)
        )
        return Response({"results": [job_json(j) for j in page.jobs], "next": paging.next_url(request, page.older)})

    def post(self, request):
        body = request.data
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            return Response({"error": 'Send a JSON object like {"type": "canary", "params": {}}.'}, status=400)
        job = services.job_start(type=body["type"], params=body.get("params") or {}, actor=request.user, source=SOURCE)
        return Response(job_json(job), status=status.HTTP_201_CREATED)


class JobDetailView(APIView):
    permission_classes = [ViewOrRun]

    def get(self, request, job_id: int):
        return Response(
            job_json(get_object_or_404(Job.objects.select_related("requested_by"), pk=job_id), history=True)
        )


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


class UploadView(uploads.UploadViewMixin, APIView):
    permission_classes = [CanRunJobs]
    parser_classes = [MultiPartParser]

    def post(self, request):
        file = uploads.upload_files(request).get("file")
        if file is None:
            raise uploads.UploadMissing("Send the file as multipart/form-data in a field named 'file'.")
        upload = uploads.upload_store(file=file, actor=request.user, source=SOURCE)
        return Response(
            {"id": str(upload.pk), "name": upload.name, "size": upload.size}, status=status.HTTP_201_CREATED
        )
