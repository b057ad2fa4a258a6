"""Download an export: operators only (DESIGN §7), every download audited."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event
from rest_framework.views import APIView

from audit.services import audit_record
from chlops.exceptions import ChlopsError
from indexes.dashboard.cards import EMBEDDING_CARD
from indexes.services.embedding import entries_embedding_retry
from indexes.services.exporting import export_content_type, export_path
from operations import cards, services
from operations.access import RUN, ops_view
from operations.api.permissions import CanRunJobs


class ExportDownloadView(APIView):
    # Exports hold the whole corpus: the people who run jobs may fetch them, read-only roles may not.
    permission_classes = [CanRunJobs]

    def get(self, request, name: str) -> FileResponse:
        path = export_path(name=name)
        response = FileResponse(
            path.open("rb"), as_attachment=True, filename=name, content_type=export_content_type(name=name)
        )
        audit_record(
            action="export.download",
            actor=request.user,
            source="api" if request.auth is not None else "web",
            target=name,
            details={"file": name, "bytes": path.stat().st_size},
            request=request._request,
        )
        return response


# --- The embedding card's buttons (dashboard views, under /admin/ops/embedding/) ----------


@ops_view(RUN)
@require_POST
def embedding_retry(request: HttpRequest) -> HttpResponse:
    ids = [int(v) for v in request.POST.getlist("entry") if v.isdigit()]
    if not ids:
        return cards.card_response(EMBEDDING_CARD, status=400, error="Choose an entry to retry.")
    count = entries_embedding_retry(ids=ids, actor=request.user, source="web", request=request)
    return cards.card_response(EMBEDDING_CARD, message=f"{count} entr{'y is' if count == 1 else 'ies are'} pending again.")


@ops_view(RUN)
@require_POST
def embedding_run(request: HttpRequest) -> HttpResponse:
    try:
        job = services.job_start(type="embed", params={}, actor=request.user, source="web")
    except ChlopsError as exc:
        return cards.card_response(EMBEDDING_CARD, status=exc.status, error=exc.message)
    response = cards.card_response(EMBEDDING_CARD, message=f"Started {job}.")
    return trigger_client_event(response, "ops:jobs-changed", {"id": job.pk})
