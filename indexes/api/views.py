"""GET /api/index and GET /api/search: parse, call one service, respond."""

from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from chlops.exceptions import ServiceUnavailable
from indexes.search import search, search_params_parse
from indexes.store import index_manifest
from indexes.store.files import NO_INDEX
from operations.api.permissions import CanViewDashboard

INDEX_FIELDS = ("version", "vectors", "dimension", "embedder", "index_type", "built_at", "size_bytes", "recall_at_10")


class IndexView(APIView):
    permission_classes = [CanViewDashboard]

    def get(self, request):
        manifest = index_manifest()
        if manifest is None:
            raise ServiceUnavailable(NO_INDEX)
        return Response({name: manifest.get(name) for name in INDEX_FIELDS})


class SearchView(APIView):
    permission_classes = [CanViewDashboard]

    def get(self, request):
        return Response(search(**search_params_parse(request.query_params)))
