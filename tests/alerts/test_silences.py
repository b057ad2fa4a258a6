"""Silences: opened by session (CSRF enforced), by Bearer token and from the Alerts page; they mark the alerts
they match, which stay in the history but leave the banners; ended early; every refusal a sentence."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from alerts.cards import banner_context
from alerts.evaluator import evaluate_pass
from alerts.models import Alert, Silence
from audit.models import AuditLog
from operations import tokens
from tests.alerts.factories import a_rule, requests_recorded
from tests.alerts.test_ack import a_firing_alert, post_json
from tests.sessions import browser_login, csrf_header

pytestmark = pytest.mark.django_db


def banner_ids() -> list[int]:
    return [alert.pk for alert in banner_context("dashboard")["alerts"]]


class SilenceApiTests:
    def test_a_session_silences_a_module_and_its_alert_leaves_the_banners_but_not_the_history(self, operator):
        alert = a_firing_alert(module="web")
        other = a_firing_alert(module="cache", fingerprint="other")
        client = browser_login(operator)
        response = post_json(
            client,
            "/api/alerts/silences",
            {"module": "web", "minutes": 30, "comment": "deploying"},
            **csrf_header(client),
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["module"] == "web" and body["active"] and body["author"] == "olivia"
        alert.refresh_from_db()
        assert alert.silenced_by_id == body["id"]
        assert banner_ids() == [other.pk]
        listed = client.get("/api/alerts").json()
        assert {row["id"]: row["silenced_by"] for row in listed["results"]}[
            alert.pk
        ] == f"silence #{body['id']} by olivia"
        row = AuditLog.objects.get(action="silence.create")
        assert row.target == f"silence:{body['id']}" and row.details["comment"] == "deploying"
        exported = client.get("/admin/ops/alerts/export.csv").content.decode()
        assert f"silence #{body['id']} by olivia" in exported

    def test_ending_early_brings_the_banner_back_and_keeps_the_mark(self, operator):
        alert = a_firing_alert()
        client = browser_login(operator)
        silence = post_json(
            client, "/api/alerts/silences", {"severity": "critical", "minutes": 30}, **csrf_header(client)
        ).json()
        assert banner_ids() == []
        response = post_json(client, f"/api/alerts/silences/{silence['id']}/end", {}, **csrf_header(client))
        assert response.status_code == 200 and response.json()["ended_early"] and not response.json()["active"]
        assert banner_ids() == [alert.pk]
        alert.refresh_from_db()
        assert alert.silenced_by_id == silence["id"]  # the history still says it was silenced
        again = post_json(client, f"/api/alerts/silences/{silence['id']}/end", {}, **csrf_header(client))
        assert again.status_code == 409 and "already ended" in again.json()["error"]
        assert post_json(client, "/api/alerts/silences/999999/end", {}, **csrf_header(client)).status_code == 404
        listed = client.get("/api/alerts/silences").json()
        assert [s["id"] for s in listed["expired"]] == [silence["id"]] and listed["active"] == []
        assert AuditLog.objects.filter(action="silence.end", target=f"silence:{silence['id']}").exists()

    def test_a_bearer_token_silences_by_rule_name_with_a_start_and_end(self, operator):
        rule = a_rule()
        _, raw = tokens.token_create(user=operator, source="cli")
        client = Client(enforce_csrf_checks=True)
        start = timezone.now().replace(microsecond=0)
        body = {"rule": rule.name, "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat()}
        response = post_json(client, "/api/alerts/silences", body, HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert response.status_code == 201, response.content
        silence = Silence.objects.get(pk=response.json()["id"])
        assert silence.rule == rule and silence.ends_at - silence.starts_at == timedelta(hours=2)

    def test_a_viewer_lists_silences_but_may_not_open_one(self, auditor):
        client = browser_login(auditor)
        assert client.get("/api/alerts/silences").status_code == 200
        response = post_json(client, "/api/alerts/silences", {"module": "web", "minutes": 5}, **csrf_header(client))
        assert response.status_code == 403 and not Silence.objects.exists()

    @pytest.mark.parametrize(
        "body, words",
        [
            ({"minutes": 30}, "at least one of rule, metric, module or severity"),
            ({"module": "nowhere", "minutes": 30}, "Unknown module 'nowhere'"),
            ({"severity": "loud", "minutes": 30}, "Unknown severity 'loud'"),
            ({"rule": "no such rule", "minutes": 30}, "Unknown rule 'no such rule'"),
            ({"metric": "mood", "minutes": 30}, "Unknown metric 'mood'"),
            (
                {"module": "web", "starts_at": "2026-12-01T10:00:00Z", "ends_at": "2026-12-01T09:00:00Z"},
                "ends before it starts",
            ),
            ({"module": "web", "minutes": 60 * 24 * 31}, "at most 30 days"),
            (
                {"module": "web", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-03-01T00:00:00Z"},
                "at most 30 days",
            ),
            ({"module": "web", "ends_at": "tomorrow"}, "'ends_at' must be a time"),
            ({"module": "web"}, "Say when the silence ends"),
            ({"module": "web", "minutes": "soon"}, "'minutes' must be a number"),
            (["module", "web"], "Send a JSON object"),
        ],
    )
    def test_bad_input_is_400_with_a_sentence(self, operator, body, words):
        client = browser_login(operator)
        response = post_json(client, "/api/alerts/silences", body, **csrf_header(client))
        assert response.status_code == 400 and words in response.json()["error"]
        assert not Silence.objects.exists() and not AuditLog.objects.filter(action="silence.create").exists()


class SilencePageTests:
    def test_an_operator_silences_from_the_alerts_page_and_sees_it_listed(self, operator):
        client = browser_login(operator)
        form = {"module": "index", "minutes": "15", "comment": "reindex by hand"}
        response = client.post("/admin/ops/alerts/silences/", form, **csrf_header(client))
        assert response.status_code == 200
        page = html.unescape(response.content.decode())
        assert "Silence saved." in page and "module index" in page and "reindex by hand" in page
        silence = Silence.objects.get()
        ended = client.post(f"/admin/ops/alerts/silences/{silence.pk}/end/", {}, **csrf_header(client))
        assert ended.status_code == 200 and f"Silence #{silence.pk} ended." in ended.content.decode()

    def test_a_bad_form_is_400_with_the_sentence_on_the_page(self, operator):
        client = browser_login(operator)
        response = client.post("/admin/ops/alerts/silences/", {"minutes": "15"}, **csrf_header(client))
        assert response.status_code == 400 and "at least one of rule" in response.content.decode()

    def test_an_auditor_may_not_silence_and_the_attempt_is_audited(self, auditor):
        client = browser_login(auditor)
        response = client.post("/admin/ops/alerts/silences/", {"module": "web", "minutes": "5"}, **csrf_header(client))
        assert response.status_code == 403 and not Silence.objects.exists()
        assert AuditLog.objects.filter(target="/admin/ops/alerts/silences/").exists()
        page = client.get("/admin/ops/alerts/").content.decode()
        assert 'id="alerts-silences"' in page and 'action="/admin/ops/alerts/silences/"' not in page


class SilencedEvaluationTests:
    def test_an_alert_firing_under_a_silence_is_recorded_marked_and_not_a_banner(self, store_clock, operator):
        rule = a_rule(for_seconds=0)
        client = browser_login(operator)
        post_json(client, "/api/alerts/silences", {"rule": rule.pk, "minutes": 10}, **csrf_header(client))
        requests_recorded("web", ok=90, failed=10)
        assert [c.what for c in evaluate_pass() if c.alert.rule_id == rule.pk] == ["fired"]
        alert = Alert.objects.get(rule=rule)
        assert alert.silenced_by is not None and alert.state == "firing"
        assert alert.pk not in banner_ids()

    def test_a_silence_that_runs_out_brings_the_banner_back_on_the_next_pass(self, store_clock, operator):
        alert = a_firing_alert(rule=None)  # an outside alert: the pass leaves it open and only marks it
        silence = Silence.objects.create(
            module="web", starts_at=timezone.now() - timedelta(minutes=5), ends_at=timezone.now() + timedelta(minutes=5)
        )
        evaluate_pass()
        alert.refresh_from_db()
        assert alert.silenced_by == silence and banner_ids() == []
        Silence.objects.filter(pk=silence.pk).update(ends_at=timezone.now())
        assert banner_ids() == [alert.pk]


class SilenceAdminTests:
    def test_the_admin_lists_silences_and_ends_one_early_audited(self, operator):
        silence = Silence.objects.create(module="web", starts_at=timezone.now(), ends_at=timezone.now() + timedelta(hours=1))
        client = browser_login(operator)
        assert client.get("/admin/alerts/silence/").status_code == 200
        assert client.get(f"/admin/alerts/silence/{silence.pk}/change/").status_code == 200
        form = {"action": "end_silences", "_selected_action": [silence.pk]}
        assert client.post("/admin/alerts/silence/", form, **csrf_header(client)).status_code == 302
        silence.refresh_from_db()
        assert silence.ended_early_at is not None
        assert AuditLog.objects.filter(action="silence.end", source="admin").exists()

    def test_an_auditor_sees_silences_but_has_no_action_to_end_them(self, auditor):
        Silence.objects.create(module="web", starts_at=timezone.now(), ends_at=timezone.now() + timedelta(hours=1))
        page = browser_login(auditor).get("/admin/alerts/silence/").content.decode()
        assert "end_silences" not in page
