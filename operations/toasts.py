"""Tell the page how an action ended: a toast that live.js shows (HX-Trigger "chlops:toast")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpResponse
from django_htmx.http import trigger_client_event

EVENT = "chlops:toast"
# Keys of a card's answer that hold its sentence, in the order they win; the rest name a job.
SENTENCES = ("error", "action_error", "notice", "message")
JOBS = {"started": "Started {}.", "retried_as": "Retried as {}."}


def toast(response: HttpResponse, message: str) -> HttpResponse:
    """Add `message` to `response` as a toast: a failure when the status is 4xx or 5xx, else a success."""
    level = "error" if response.status_code >= 400 else "success"
    return trigger_client_event(response, EVENT, {"level": level, "message": message})


def toast_answer(response: HttpResponse, answer: Mapping[str, Any]) -> HttpResponse:
    """Toast what a card's answer says inline (its error, its notice, or the job it started), if anything."""
    message = answer_sentence(answer)
    return toast(response, message) if message else response


def answer_sentence(answer: Mapping[str, Any]) -> str | None:
    for key in SENTENCES:
        if answer.get(key):
            return str(answer[key])
    for key, sentence in JOBS.items():
        if answer.get(key):
            return sentence.format(answer[key])
    return None


def form_failure(title: str, form: Any) -> str:
    """Say why a run-card form did not start its job: its own errors, else the first field's."""
    if form.non_field_errors():
        return " ".join(form.non_field_errors())
    for name, messages in form.errors.items():
        label = form.fields[name].label if name in form.fields else name
        return f"{title} did not start. {label}: {messages[0]}"
    return f"{title} did not start."
