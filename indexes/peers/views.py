"""The Settings page (superusers only) and its forms: parse, call one service, answer with the form.

The forms are not cards: a push may replace a card while its request is on the way (and htmx then
drops the answer), never a form. A saved form answers with itself, empty; the changed card comes by
the push (or, while the socket is down, by the poll that "ops:jobs-changed" starts), never in the
answer, which may be older than a push already shown.
"""

from __future__ import annotations

from django.contrib import admin
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from chlops.exceptions import ChlopsError
from indexes.peers import services
from indexes.peers.cards import PAGE
from indexes.peers.forms import CredentialForm, PeerForm
from indexes.peers.selectors import CREDENTIALS_CARD, PEERS_CARD
from operations import cards, fragments, toasts
from operations.access import SUPERUSER, ops_view

SOURCE = "web"
TEMPLATE = "indexes/settings.html"
FORMS = {"credential-form": "credential_form", "peer-form": "peer_form"}  # partial: its form's name in the page


@ops_view(SUPERUSER)
@require_GET
def settings_page(request: HttpRequest) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "title": "Settings",
        **fragments.tabs_context(PAGE.name),
        **fragments.system_status_context(),
        "credentials_html": cards.card_render(cards.get(CREDENTIALS_CARD), can_run=True),
        "peers_html": cards.card_render(cards.get(PEERS_CARD), can_run=True),
        "credential_form": CredentialForm(),
        "peer_form": PeerForm(),
    }
    return render(request, TEMPLATE, context)


def form_failure(form: Form) -> str:
    """The first thing wrong with a form, as a sentence; the secret fields' values are never repeated."""
    for name, errors in form.errors.items():
        label = (form.fields[name].label or name.replace("_", " ").capitalize()) if name in form.fields else ""
        return f"{label}: {errors[0]}" if label else errors[0]
    return "Check the form."


def form_answer(request: HttpRequest, name: str, form: Form, *, status: int = 200, **answer) -> HttpResponse:
    """The form `name`: empty after a save, with its errors after a refusal."""
    response = render(request, f"{TEMPLATE}#{name}", {FORMS[name]: form, **answer}, status=status)
    if status < 400:
        trigger_client_event(response, "ops:jobs-changed", {})
    return toasts.toast_answer(response, answer)


@ops_view(SUPERUSER)
@require_POST
def credential_save(request: HttpRequest) -> HttpResponse:
    form = CredentialForm(data=request.POST)
    if not form.is_valid():
        return form_answer(request, "credential-form", form, status=400, error=form_failure(form))
    data = form.cleaned_data
    try:
        saved = services.credential_set(
            name=data["name"], kind=data["kind"], secret=data["secret"], actor=request.user, source=SOURCE
        )
    except ChlopsError as exc:
        return form_answer(request, "credential-form", form, status=exc.status, error=exc.message)
    notice = f"The credential {saved.item} {saved.note}"
    return form_answer(request, "credential-form", CredentialForm(), notice=notice)


@ops_view(SUPERUSER)
@require_POST
def peer_add(request: HttpRequest) -> HttpResponse:
    form = PeerForm(data=request.POST)
    if not form.is_valid():
        return form_answer(request, "peer-form", form, status=400, error=form_failure(form))
    data = form.cleaned_data
    try:
        saved = services.peer_add(
            name=data["name"], base_url=data["base_url"], token=data["token"], actor=request.user, source=SOURCE,
            own_urls=(request.build_absolute_uri("/"),),
        )  # fmt: skip
    except ChlopsError as exc:
        return form_answer(request, "peer-form", form, status=exc.status, error=exc.message)
    return form_answer(request, "peer-form", PeerForm(), notice=f"The peer {saved.item} {saved.note}")


# --- The cards' buttons: they answer with their card, as the dashboard's do ----------------------


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
