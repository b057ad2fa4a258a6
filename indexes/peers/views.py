"""The Settings page (superusers only) and its forms: parse, call one service, answer with the card."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from chlops.exceptions import ChlopsError
from indexes.peers import services
from indexes.peers.cards import PAGE
from indexes.peers.forms import CredentialForm, PeerForm
from indexes.peers.selectors import CREDENTIALS_CARD, PEERS_CARD
from operations import cards, fragments
from operations.access import SUPERUSER, ops_view

SOURCE = "web"


@ops_view(SUPERUSER)
@require_GET
def settings_page(request: HttpRequest) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "title": "Settings",
        **fragments.tabs_context(PAGE.name),
        **fragments.system_status_context(),
        **fragments.cards_context(can_run=True, page=PAGE.name),
    }
    return render(request, "indexes/settings.html", context)


def form_failure(form) -> str:
    """The first thing wrong with a form, as a sentence; the secret fields' values are never repeated."""
    for name, errors in form.errors.items():
        label = form.fields[name].label or name.replace("_", " ").capitalize() if name in form.fields else ""
        return f"{label}: {errors[0]}" if label else errors[0]
    return "Check the form."


@ops_view(SUPERUSER)
@require_POST
def credential_save(request: HttpRequest) -> HttpResponse:
    form = CredentialForm(data=request.POST)
    if not form.is_valid():
        return cards.card_response(CREDENTIALS_CARD, status=400, error=form_failure(form), credential_form=form)
    data = form.cleaned_data
    try:
        saved = services.credential_set(
            name=data["name"], kind=data["kind"], secret=data["secret"], actor=request.user, source=SOURCE
        )
    except ChlopsError as exc:
        return cards.card_response(CREDENTIALS_CARD, status=exc.status, error=exc.message, credential_form=form)
    return cards.card_response(CREDENTIALS_CARD, notice=f"The credential {saved.item} {saved.note}")


@ops_view(SUPERUSER)
@require_POST
def credential_remove(request: HttpRequest, name: str) -> HttpResponse:
    try:
        services.credential_remove(name=name, actor=request.user, source=SOURCE)
    except ChlopsError as exc:
        return cards.card_response(CREDENTIALS_CARD, status=exc.status, error=exc.message)
    return cards.card_response(CREDENTIALS_CARD, notice=f"Removed the credential {name} and its file.")


@ops_view(SUPERUSER)
@require_POST
def credential_verify(request: HttpRequest, name: str) -> HttpResponse:
    return cards.card_job_started(
        CREDENTIALS_CARD, lambda: services.verify_start(credential=name, actor=request.user, source=SOURCE)
    )


@ops_view(SUPERUSER)
@require_POST
def peer_add(request: HttpRequest) -> HttpResponse:
    form = PeerForm(data=request.POST)
    if not form.is_valid():
        return cards.card_response(PEERS_CARD, status=400, error=form_failure(form), peer_form=form)
    data = form.cleaned_data
    try:
        saved = services.peer_add(
            name=data["name"], base_url=data["base_url"], token=data["token"], actor=request.user, source=SOURCE,
            own_urls=(request.build_absolute_uri("/"),),
        )  # fmt: skip
    except ChlopsError as exc:
        return cards.card_response(PEERS_CARD, status=exc.status, error=exc.message, peer_form=form)
    return cards.card_response(PEERS_CARD, notice=f"The peer {saved.item} {saved.note}")


@ops_view(SUPERUSER)
@require_POST
def peer_remove(request: HttpRequest, name: str) -> HttpResponse:
    try:
        services.peer_remove(name=name, actor=request.user, source=SOURCE)
    except ChlopsError as exc:
        return cards.card_response(PEERS_CARD, status=exc.status, error=exc.message)
    return cards.card_response(PEERS_CARD, notice=f"Removed the peer {name} and its token.")


@ops_view(SUPERUSER)
@require_POST
def peer_verify(request: HttpRequest, name: str) -> HttpResponse:
    return cards.card_job_started(PEERS_CARD, lambda: services.verify_start(peer=name, actor=request.user, source=SOURCE))
