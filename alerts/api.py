"""The alerts API (DESIGN §6): parse, call one service, respond."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import selectors, services, silences
from alerts.models import Alert, Silence
from chlops.exceptions import ChlopsError
from operations.api import paging
from operations.api.permissions import CanRunJobs, CanViewDashboard

SOURCE = "api"


def _choice(query, name: str, allowed: tuple[str, ...]) -> None:
    value = query.get(name)
    if value not in (None, "") and value not in allowed:
        raise ChlopsError(f"Unknown {name} {value!r}; use one of: {', '.join(allowed)}.")


class AlertListView(APIView):
    permission_classes = [CanViewDashboard]

    def get(self, request):
        query = request.query_params
        _choice(query, "state", selectors.STATES)
        _choice(query, "severity", selectors.SEVERITIES)
        _choice(query, "module", selectors.MODULES)
        filters = selectors.AlertFilters.from_query(query)
        page = selectors.alert_page(filters, before=paging.cursor(query), size=paging.size(query))
        return Response(
            {
                "firing": [selectors.alert_json(a) for a in selectors.alerts_firing()],
                "results": [selectors.alert_json(a) for a in page.alerts],
                "next": paging.next_url(request, page.older),
            }
        )


class AlertDetailView(APIView):
    permission_classes = [CanViewDashboard]

    def get(self, request, alert_id: int):
        return Response(selectors.alert_json(get_object_or_404(Alert, pk=alert_id)))


class AlertAckView(APIView):
    permission_classes = [CanRunJobs]

    def post(self, request, alert_id: int):
        body = request.data
        if not isinstance(body, dict):
            return Response(
                {"error": 'Send a JSON object like {"comment": "looking into it"} (the comment is optional).'},
                status=400,
            )
        alert = get_object_or_404(Alert, pk=alert_id)
        alert = services.alert_acknowledge(
            alert=alert, actor=request.user, comment=body.get("comment") or "", source=SOURCE
        )
        return Response(selectors.alert_json(alert))


class SilenceListView(APIView):
    def get_permissions(self):
        return [CanRunJobs()] if self.request.method == "POST" else [CanViewDashboard()]

    def get(self, request):
        current, expired = selectors.silences_recent()
        return Response(
            {
                "active": [selectors.silence_json(s) for s in current],
                "expired": [selectors.silence_json(s) for s in expired],
            }
        )

    def post(self, request):
        silence = silences.silence_create(**silences.silence_fields(request.data), actor=request.user, source=SOURCE)
        return Response(selectors.silence_json(silence), status=201)


class SilenceEndView(APIView):
    permission_classes = [CanRunJobs]

    def post(self, request, silence_id: int):
        silence = silences.silence_end(
            silence=get_object_or_404(Silence, pk=silence_id), actor=request.user, source=SOURCE
        )
        return Response(selectors.silence_json(silence))
