from __future__ import annotations

import json

import pytest
from django import forms
from django.test import Client
from django.utils import timezone

from operations.models import Job, JobState
from operations.toasts import answer_sentence, form_failure

pytestmark = pytest.mark.django_db


def browser_session(user) -> tuple[Client, dict[str, str]]:
    """A CSRF-enforcing client that has opened the dashboard, and the headers htmx sends from it."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/admin/ops/")  # the page sets the csrftoken cookie that its requests send back
    return client, {"HTTP_HX_REQUEST": "true", "HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def toast_of(response) -> dict:
    return json.loads(response["HX-Trigger"])["chlops:toast"]


class AnswerSentenceTests:
    def test_an_error_wins_over_a_notice_and_a_started_job(self):
        assert answer_sentence({"notice": "Paused.", "error": "No such worker.", "started": "x"}) == "No such worker."

    def test_a_started_or_retried_job_is_named(self):
        assert answer_sentence({"started": "canary job #3"}) == "Started canary job #3."
        assert answer_sentence({"retried_as": "canary job #4"}) == "Retried as canary job #4."

    def test_an_answer_with_nothing_to_say_has_no_toast(self):
        assert answer_sentence({"conflict": None, "notice": ""}) is None


class FormFailureTests:
    class Seconds(forms.Form):
        seconds = forms.FloatField(label="Seconds", min_value=0)

    def test_a_field_error_names_the_operation_and_the_field(self):
        form = self.Seconds(data={"seconds": "-3"})
        form.is_valid()
        assert form_failure("Canary", form) == (
            "Canary did not start. Seconds: Ensure this value is greater than or equal to 0."
        )

    def test_errors_of_the_whole_form_are_said_as_they_are(self):
        form = self.Seconds(data={"seconds": "1"})
        form.is_valid()
        form.add_error(None, "Already running: canary job #1 (queued).")
        assert form_failure("Canary", form) == "Already running: canary job #1 (queued)."


class ActionToastTests:
    def test_starting_a_job_toasts_success(self, operator):
        client, headers = browser_session(operator)
        response = client.post("/admin/ops/run/canary/", {"canary-seconds": "20"}, **headers)
        job = Job.objects.get()
        assert toast_of(response) == {"level": "success", "message": f"Started {job}."}

    def test_a_refused_start_toasts_the_reason_as_a_failure(self, operator):
        client, headers = browser_session(operator)
        response = client.post("/admin/ops/run/canary/", {"canary-seconds": "-3"}, **headers)
        assert response.status_code == 400
        assert toast_of(response) == {
            "level": "error",
            "message": "Canary did not start. Seconds: Ensure this value is greater than or equal to 0.",
        }

    def test_cancelling_a_running_job_says_it_stops_at_its_next_checkpoint(self, operator):
        job = Job.objects.create(type="canary", state=JobState.RUNNING)
        client, headers = browser_session(operator)
        response = client.post(f"/admin/ops/jobs/{job.pk}/cancel/", **headers)
        assert response.status_code == 204
        assert toast_of(response) == {
            "level": "success",
            "message": f"Asked {job} to stop; it stops at its next checkpoint.",
        }

    def test_a_refused_cancel_toasts_its_sentence_as_a_failure(self, operator):
        job = Job.objects.create(type="canary", state=JobState.SUCCEEDED, finished_at=timezone.now())
        client, headers = browser_session(operator)
        response = client.post(f"/admin/ops/jobs/{job.pk}/cancel/", **headers)
        assert response.status_code == 409
        assert toast_of(response) == {
            "level": "error",
            "message": f"{job} has already succeeded; there is nothing to cancel.",
        }

    def test_retrying_names_the_new_job(self, operator):
        job = Job.objects.create(type="canary", state=JobState.FAILED, finished_at=timezone.now())
        client, headers = browser_session(operator)
        response = client.post(f"/admin/ops/jobs/{job.pk}/retry/", **headers, HTTP_HX_TARGET=f"job-{job.pk}")
        retry = Job.objects.get(retry_of=job)
        assert toast_of(response) == {"level": "success", "message": f"Retried as {retry}."}

    def test_a_card_button_toasts_what_its_card_says(self, operator):
        client, headers = browser_session(operator)
        response = client.post("/admin/ops/embedding/retry/", **headers)
        assert response.status_code == 400
        assert toast_of(response) == {"level": "error", "message": "Choose an entry to retry."}
