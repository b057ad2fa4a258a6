"""Dashboard views of the snapshots card: create, upload, restore (typed name), delete."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from chlops.exceptions import ChlopsError
from indexes.snapshots.cards import SNAPSHOTS_CARD, snapshots_card_context
from indexes.snapshots.restore import restore_start
from indexes.snapshots.services import snapshot_delete, snapshot_import, snapshot_refused, staging_area
from indexes.snapshots.uploads import StagingUploadHandler
from operations import cards, services
from operations.access import RUN, ops_view


def _card(request: HttpRequest, *, status: int = 200, **extra) -> HttpResponse:
    html = cards.card_render(cards.get(SNAPSHOTS_CARD), can_run=True, context={**snapshots_card_context(), **extra})
    return HttpResponse(html, status=status)


def _job_started(request: HttpRequest, start) -> HttpResponse:
    try:
        job = start()
    except services.LockHeld as exc:
        return _card(request, status=exc.status, error=exc.message, conflict=exc.conflict)
    except ChlopsError as exc:
        return _card(request, status=exc.status, error=exc.message)
    return trigger_client_event(_card(request, started=job), "ops:jobs-changed", {"id": job.pk})


@ops_view(RUN)
@require_POST
def snapshot_create(request: HttpRequest) -> HttpResponse:
    return _job_started(
        request, lambda: services.job_start(type="snapshot", params={}, actor=request.user, source="web")
    )


@ops_view(RUN)
@require_POST
def snapshot_restore(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    return _job_started(
        request,
        lambda: restore_start(
            snapshot_id=snapshot_id,
            confirm=request.POST.get("confirm"),
            actor=request.user,
            source="web",
            request=request,
        ),
    )


@ops_view(RUN)
@require_POST
def snapshot_remove(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    try:
        name = snapshot_delete(snapshot_id=snapshot_id, actor=request.user, source="web", request=request)
    except ChlopsError as exc:
        return _card(request, status=exc.status, error=exc.message)
    return _card(request, notice=f"Deleted the snapshot {name}.")


@csrf_exempt  # the CSRF check reads the body; it runs below, once the upload streams into its staging dir
def snapshot_upload(request: HttpRequest) -> HttpResponse:
    with staging_area() as staged:
        handler = StagingUploadHandler(request, staged=staged, max_bytes=settings.CHLOPS_SNAPSHOT_MAX_BYTES)
        request.upload_handlers = [handler]
        return _snapshot_upload(request, handler=handler)


@csrf_protect
@ops_view(RUN)
@require_POST
def _snapshot_upload(request: HttpRequest, *, handler: StagingUploadHandler) -> HttpResponse:
    upload = request.FILES.get("file")
    if handler.too_big:
        limit = settings.CHLOPS_SNAPSHOT_MAX_BYTES
        message = f"The snapshot was refused: it is larger than {limit} bytes (CHLOPS_SNAPSHOT_MAX_BYTES)."
        snapshot_refused(reason=message, filename="upload", actor=request.user, source="web", request=request)
        return _card(request, status=413, error=message)
    if upload is None or not handler.path.exists():
        return _card(request, status=400, error="Choose a snapshot ZIP to upload.")
    try:
        snapshot = snapshot_import(
            zip_path=handler.path,
            staged=handler.staged,
            filename=upload.name or "upload.zip",
            actor=request.user,
            source="web",
            request=request,
        )
    except ChlopsError as exc:
        return _card(request, status=exc.status, error=exc.message)
    return _card(request, notice=f"Uploaded as snapshot {snapshot.name}.")
