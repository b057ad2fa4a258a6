"""Render the cards that the dashboard shows and the websocket pushes: the very same partials."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.template.loader import render_to_string
from django.urls import reverse

from operations import broadcasts, cards, queueing, selectors
from operations.broadcasts import Change
from operations.forms import JobFilterForm
from operations.models import Job

PAGE_SIZE = 25
# A snapshot is shared by the clients that ask for the same one at the same sequence number, for at
# most this long: every change is pushed with a higher number, but a card showing a time ("3 s ago")
# or a change made around the services must not be served for long.
SNAPSHOT_REUSE_SECONDS = 0.5
DASHBOARD = "operations/dashboard.html"
DETAIL = "operations/job_detail.html"
STATUS = "operations/_system_status.html"


@dataclass(frozen=True)
class JobFilters:
    """What the jobs table shows: a state, a type, and the keyset position of its page."""

    state: str = ""
    type: str = ""
    before: int | None = None

    @classmethod
    def from_query(cls, query: Any) -> JobFilters:
        """Read filters from a query dict; anything invalid is ignored rather than trusted."""
        form = JobFilterForm(data=query)
        form.is_valid()
        cleaned = {name: form.cleaned_data.get(name) for name in ("state", "type", "before") if name not in form.errors}
        return cls(state=cleaned.get("state") or "", type=cleaned.get("type") or "", before=cleaned.get("before"))

    def query(self, **changes: Any) -> str:
        values = {"state": self.state, "type": self.type, "before": self.before, **changes}
        return urlencode({k: v for k, v in values.items() if v})

    @property
    def is_first_page(self) -> bool:
        return self.before is None


def jobs_table_context(*, filters: JobFilters, can_run: bool) -> dict[str, Any]:
    page = selectors.job_page(
        state=filters.state or None, type=filters.type or None, before=filters.before, size=PAGE_SIZE
    )
    return {
        "jobs": page.jobs,
        "filters": filters,
        "older_query": filters.query(before=page.older) if page.older else None,
        "newest_query": filters.query(before=None),
        "page_size": PAGE_SIZE,
        "can_run": can_run,
    }


def latest_runs_context() -> dict[str, Any]:
    return {"latest": selectors.job_latest_per_type()}


def job_detail_context(*, job: Job, can_run: bool) -> dict[str, Any]:
    return {"job": job, "history": list(job.history.select_related("actor")), "can_run": can_run}


def system_status_context() -> dict[str, Any]:
    return {"redis_up": queueing.broker_available()}


def cards_context(*, can_run: bool, page: str = broadcasts.OPERATIONS) -> dict[str, Any]:
    shown = [card for card in cards.all_cards(page) if not card.frame]  # the frame renders its own
    rendered = [(card, cards.card_render(card, can_run=can_run)) for card in shown]
    return {
        "grid_cards": [html for card, html in rendered if not card.wide],
        "wide_cards": [html for card, html in rendered if card.wide],
    }


def render_card(template: str, name: str, context: dict[str, Any], *, oob: bool = False) -> str:
    return render_to_string(f"{template}#{name}", {**context, "oob": oob})


def change_render(change: Change) -> broadcasts.Rendered | tuple[str, str] | None:
    """Render a change for the broadcast (registered with operations.broadcasts), or None if it is gone."""
    if change.kind == "job":
        try:
            job = selectors.job_get(job_id=int(change.key))
        except Job.DoesNotExist:
            return None
        return job_fragments_for_everyone(job, with_latest_runs=not change.progress_only)
    try:
        card = cards.get(str(change.key))
    except cards.UnknownCard:
        return None  # an optional card this deployment does not show
    return broadcasts.Rendered(*cards.card_render_both(card), page=card.page)


def job_fragments_for_everyone(job: Job, *, with_latest_runs: bool = True) -> broadcasts.Rendered:
    """Render what one changed job means for every page, for viewers and for users who may run jobs,
    sharing what they share: for the Operations page its row and the latest runs, for its own page
    its detail (each page is sent only its part, see OpsConsumer.ops_fragment)."""
    history = list(job.history.select_related("actor"))
    latest = render_card(DASHBOARD, "latest-runs", latest_runs_context(), oob=True) if with_latest_runs else ""
    rows = [_job_row(job, can_run=can_run) + latest for can_run in (False, True)]
    details = [_job_detail(job, history, can_run=can_run) for can_run in (False, True)]
    return broadcasts.Rendered(rows[0], rows[1], job=job.pk, detail=details[0], detail_run=details[1])


def _job_row(job: Job, *, can_run: bool) -> str:
    # A <tr> cannot stand beside <div>s in HTML; a <template> carries it, as htmx documents for OOB rows.
    row = render_card(DASHBOARD, "job-row", {"job": job, "can_run": can_run}, oob=True)
    return f"<template>{row.strip()}</template>"


def _job_detail(job: Job, history: list, *, can_run: bool) -> str:
    return render_card(DETAIL, "job-detail", {"job": job, "history": history, "can_run": can_run}, oob=True)


def seq_marker(seq: int, *, snapshot: bool = False) -> str:
    flag = ' data-snapshot="true"' if snapshot else ""
    return f'<div id="ops-seq" data-seq="{int(seq)}"{flag} hx-swap-oob="true"></div>'


def snapshot(
    *, seq: int, can_run: bool, filters: JobFilters, job_id: int | None = None, page: str = broadcasts.OPERATIONS
) -> str:
    """Render every card of one page afresh, for a socket that (re)connects or missed a message."""
    # A snapshot is sent over a working socket, so Redis answers: clear any "down" notice.
    parts = [seq_marker(seq, snapshot=True), render_card(STATUS, "system-status", {"redis_up": True}, oob=True)]
    if page != broadcasts.OPERATIONS:
        parts.extend(cards.card_render(card, can_run=can_run, oob=True) for card in cards.all_cards(page))
    elif job_id is None:
        parts.append(
            render_card(DASHBOARD, "jobs-table", jobs_table_context(filters=filters, can_run=can_run), oob=True)
        )
        parts.append(render_card(DASHBOARD, "latest-runs", latest_runs_context(), oob=True))
        parts.extend(cards.card_render(card, can_run=can_run, oob=True) for card in cards.all_cards(page))
    else:
        job = Job.objects.select_related("requested_by", "retry_of").filter(pk=job_id).first()
        if job is not None:
            parts.append(render_card(DETAIL, "job-detail", job_detail_context(job=job, can_run=can_run), oob=True))
    return "".join(parts)


_shared: dict[tuple, tuple[float, str]] = {}
_shared_lock = threading.Lock()


def snapshot_shared(
    *, can_run: bool, filters: JobFilters, job_id: int | None = None, page: str = broadcasts.OPERATIONS
) -> str:
    """The snapshot at the current sequence number, rendered once and shared by every client asking for
    the same one (same rights, filters and job) at that number, so a crowd of reconnects renders once."""
    started = time.monotonic()
    # Read before rendering: the snapshot holds everything up to this number, maybe more, never less.
    seq = broadcasts.current_seq(page)
    key = (seq, can_run, filters, job_id, page)
    with _shared_lock:
        found = _shared.get(key)
        if found is not None and started - found[0] <= SNAPSHOT_REUSE_SECONDS:
            return found[1]
    html = snapshot(seq=seq, can_run=can_run, filters=filters, job_id=job_id, page=page)
    with _shared_lock:
        for old in [k for k, (at, _) in _shared.items() if started - at > SNAPSHOT_REUSE_SECONDS]:
            del _shared[old]
        _shared[key] = (started, html)
    return html


def tabs_context(current: str) -> dict[str, Any]:
    """The ops pages' tab bar: every registered page, the current one marked."""
    return {
        "ops_tabs": [
            {"page": page, "url": reverse(page.url_name), "current": page.name == current} for page in cards.pages()
        ]
    }
