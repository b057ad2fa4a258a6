"""Dashboard cards contributed by other apps (workers, queues, embeddings, index, snapshots…).

`operations` may not import the apps that build on it, so they register their cards here, as they
register job types. A card is one named partial whose root element carries the card's name as its
id, polls its partial URL while the socket is down, and can be swapped out of band:

    {% partialdef queues-card %}
    <section id="queues-card" class="module ops-card" aria-labelledby="queues-card-heading"
             data-ops-poll hx-get="{% url 'ops:card' 'queues-card' %}" hx-trigger="ops:poll"
             hx-swap="outerHTML"{% if oob %} hx-swap-oob="true"{% endif %}>
      <h2 id="queues-card-heading">Queues</h2> …
    </section>
    {% endpartialdef %}

The HTTP view, the snapshot and the broadcast (`broadcasts.card_changed(name)`) render the very
same partial with the card's context plus `can_run` (whether the viewer may act) and `oob`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpResponse
from django.template.loader import render_to_string
from django_htmx.http import trigger_client_event

from chlops.exceptions import ChlopsError
from operations import toasts
from operations.access import VIEW
from operations.models import Job
from operations.services import LockHeld


@dataclass(frozen=True)
class Card:
    name: str
    template: str
    context: Callable[[], dict[str, Any]]
    order: int = 100
    wide: bool = False  # full width below the jobs table, instead of in the grid beside the run card
    page: str = "operations"  # the page that shows it (see Page); its pushes go to that page's sockets only
    # Job types whose changes (queued, running, a phase, the end) re-render it: a card of status tiles.
    jobs: tuple[str, ...] = ()
    # Shown by the page's shared frame (operations/ops_base.html), above its content, not in its grid.
    frame: bool = False
    # The partial that renders it, when several cards share one (each page's banner); else its name.
    partial: str = ""


class UnknownCard(ChlopsError):
    status = 404


_cards: dict[str, Card] = {}


def register(card: Card) -> Card:
    _cards[card.name] = card
    return card


def get(name: str) -> Card:
    try:
        return _cards[name]
    except KeyError:
        raise UnknownCard(f"There is no dashboard card {name!r}.") from None


def all_cards(page: str | None = None) -> list[Card]:
    """The cards of one page (of every page when None), in their order."""
    return sorted((c for c in _cards.values() if page is None or c.page == page), key=lambda c: (c.order, c.name))


def frame_cards(page: str) -> list[Card]:
    """The cards the shared frame of `page` shows (alert banners…), in their order."""
    return [card for card in all_cards(page) if card.frame]


def cards_following(job_type: str | None) -> list[Card]:
    """The cards that show jobs of `job_type` and are pushed when one of them changes."""
    return [card for card in _cards.values() if job_type in card.jobs]


def followed_types() -> set[str]:
    return {job_type for card in _cards.values() for job_type in card.jobs}


# --- Pages: the tabs of the ops area (DESIGN §5), each registered by the app that brings it --------


@dataclass(frozen=True)
class Page:
    name: str
    title: str
    url_name: str
    order: int = 100
    perm: str = VIEW  # who may open it, its cards' partials and its socket (operations.access)


_pages: dict[str, Page] = {}


def page_register(page: Page) -> Page:
    _pages[page.name] = page
    return page


def pages() -> list[Page]:
    return sorted(_pages.values(), key=lambda p: (p.order, p.name))


def page_perm(name: str) -> str:
    """The permission a page (by name) asks of its viewers; the Operations page's for an unknown one."""
    page = _pages.get(name)
    return page.perm if page is not None else VIEW


def page_known(name: str | None) -> str:
    """The page a socket asks for by name, or the Operations page for anything else."""
    return name if name in _pages else "operations"


def card_render(card: Card, *, can_run: bool, oob: bool = False, context: dict[str, Any] | None = None) -> str:
    context = card.context() if context is None else context
    return render_to_string(f"{card.template}#{card.partial or card.name}", {**context, "can_run": can_run, "oob": oob})


def card_render_both(card: Card, *, oob: bool = True) -> tuple[str, str]:
    """Render for viewers and for users who may act, computing the context once."""
    context = card.context()
    return card_render(card, can_run=False, oob=oob, context=context), card_render(card, can_run=True, oob=oob, context=context)


def card_response(name: str, *, status: int = 200, **extra: Any) -> HttpResponse:
    """Answer a card's button with the card as a user who may act sees it, plus `extra` (error, notice…)."""
    card = get(name)
    response = HttpResponse(card_render(card, can_run=True, context={**card.context(), **extra}), status=status)
    return toasts.toast_answer(response, extra)


def card_job_started(name: str, start: Callable[[], Job]) -> HttpResponse:
    """Start a job from a card's button; answer with the card showing the job, or why it did not start."""
    try:
        job = start()
    except LockHeld as exc:
        return card_response(name, status=exc.status, error=exc.message, conflict=exc.conflict)
    except ChlopsError as exc:
        return card_response(name, status=exc.status, error=exc.message)
    return trigger_client_event(card_response(name, started=job), "ops:jobs-changed", {"id": job.pk})
