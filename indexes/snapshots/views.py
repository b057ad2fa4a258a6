"""Dashboard views of the snapshots card: create, upload, restore (typed name), delete."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from chlops.exceptions import ChlopsError
from indexes.snapshots.cards import SNAPSHOTS_CARD
from indexes.snapshots.restore import restore_start
from indexes.snapshots.services import snapshot_delete
from indexes.snapshots.uploads import SNAPSHOT_UPLOAD, snapshot_upload_import
from operations import cards, services
from operations.access import RUN, ops_view
from operations.uploads import upload_view


@ops_view(RUN)
@require_POST
def snapshot_create(request: HttpRequest) -> HttpResponse:
    return cards.card_job_started(
        SNAPSHOTS_CARD, lambda: services.job_start(type="snapshot", params={}, actor=request.user, source="web")
    )


@ops_view(RUN)
@require_POST
def snapshot_restore(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    return cards.card_job_started(
        SNAPSHOTS_CARD,
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
        return cards.card_response(SNAPSHOTS_CARD, status=exc.status, error=exc.message)
    return cards.card_response(SNAPSHOTS_CARD, notice=f"Deleted the snapshot {name}.")


@ops_view(RUN)
@upload_view(SNAPSHOT_UPLOAD)
@require_POST
def snapshot_upload(request: HttpRequest) -> HttpResponse:
    try:
        snapshot = snapshot_upload_import(request, source="web")
    except ChlopsError as exc:
        return cards.card_response(SNAPSHOTS_CARD, status=exc.status, error=exc.message)
    if snapshot is None:
        return cards.card_response(SNAPSHOTS_CARD, status=400, error="Choose a snapshot ZIP to upload.")
    return cards.card_response(SNAPSHOTS_CARD, notice=f"Uploaded as snapshot {snapshot.name}.")
