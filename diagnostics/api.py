"""GET /api/diagnostics: the settings diagnostics, for whoever may see the ops pages."""

from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from diagnostics.selectors import diagnostics_current
from operations.api.permissions import CanViewDashboard


class DiagnosticsView(APIView):
    permission_classes = [CanViewDashboard]

    def get(self, request):
        return Response({"diagnostics": [d.as_json() for d in diagnostics_current()]})
