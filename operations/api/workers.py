"""The workers and queues API: parse, call one service, respond."""

from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from chlops.exceptions import ChlopsError
from operations import workers
from operations.api.permissions import CanRunJobs, CanViewDashboard

SOURCE = "api"


class WorkerListView(APIView):
    permission_classes = [CanViewDashboard]

    def get(self, request):
        return Response({"results": workers.roster().listing()})


class WorkerControlView(APIView):
    permission_classes = [CanRunJobs]
    action = "pause"

    def post(self, request):
        body = request.data if request.data is not None else {}
        if not isinstance(body, dict):
            raise ChlopsError(
                'Name the workers in a JSON object, like {"workers": ["alpha@host"]}, or send nothing to act on all.'
            )
        control = workers.workers_pause if self.action == "pause" else workers.workers_resume
        answer = control(workers=body.get("workers"), actor=request.user, source=SOURCE)
        return Response(answer.as_json())


class QueuesView(APIView):
    permission_classes = [CanViewDashboard]

    def get(self, request):
        return Response(workers.roster().queues())
