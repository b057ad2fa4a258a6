"""Acknowledging an alert: by session (CSRF enforced) from a banner or the API, by Bearer token; refusals."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from alerts.models import Alert, AlertState
from audit.models import AuditLog
from operations import tokens
from tests.alerts.factories import a_rule
from tests.sessions import browser_login, csrf_header

pytestmark = pytest.mark.django_db


def a_firing_alert(**fields) -> Alert:
    rule = a_rule(for_seconds=0)
    now = timezone.now()
    values = {
        "rule": rule, "module": "web", "severity": "critical", "message": "Error rate of web is 7.4 %, above 5 % for 1 minute",
        "value": 7.4, "threshold": 5.0, "fingerprint": f"fp{rule.pk}", "state": AlertState.FIRING,
        "started_at": now, "fired_at": now, **fields,
    }  # fmt: skip
    return Alert.objects.create(**values)


def post_json(client: Client, url: str, body: object, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


class AckApiTests:
    def test_a_session_acknowledges_with_a_comment_and_it_is_audited(self, operator):
        alert = a_firing_alert()
        client = browser_login(operator)
        response = post_json(client, f"/api/alerts/{alert.pk}/ack", {"comment": "on it"}, **csrf_header(client))
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["acknowledged_by"] == "olivia" and body["comment"] == "on it" and body["state"] == "firing"
        row = AuditLog.objects.get(action="alert.acknowledge")
        assert row.target == f"alert:{alert.pk}" and row.details["comment"] == "on it"

    def test_a_bearer_token_acknowledges_without_csrf(self, operator):
        alert = a_firing_alert()
        _, raw = tokens.token_create(user=operator, source="cli")
        client = Client(enforce_csrf_checks=True)
        response = post_json(client, f"/api/alerts/{alert.pk}/ack", {}, HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert response.status_code == 200
        alert.refresh_from_db()
        assert alert.acknowledged_by == operator and alert.acknowledged_at is not None

    def test_a_viewer_may_read_but_not_acknowledge(self, auditor):
        alert = a_firing_alert()
        client = browser_login(auditor)
        assert client.get("/api/alerts").status_code == 200
        response = post_json(client, f"/api/alerts/{alert.pk}/ack", {}, **csrf_header(client))
        assert response.status_code == 403 and "permission" in response.json()["error"]
        alert.refresh_from_db()
        assert alert.acknowledged_by is None

    @pytest.mark.parametrize(
        ("body", "words"),
        [([1, 2], "JSON object"), ({"comment": 5}, "must be text"), ({"comment": "x" * 1001}, "keep it under")],
    )
    def test_bad_input_is_400_with_a_sentence(self, operator, body, words):
        alert = a_firing_alert()
        client = browser_login(operator)
        response = post_json(client, f"/api/alerts/{alert.pk}/ack", body, **csrf_header(client))
        assert response.status_code == 400 and words in response.json()["error"]

    def test_unknown_is_404_and_resolved_is_409(self, operator):
        client = browser_login(operator)
        assert post_json(client, "/api/alerts/987654/ack", {}, **csrf_header(client)).status_code == 404
        alert = a_firing_alert(state=AlertState.RESOLVED, resolved_at=timezone.now())
        response = post_json(client, f"/api/alerts/{alert.pk}/ack", {}, **csrf_header(client))
        assert response.status_code == 409 and "already resolved" in response.json()["error"]

    def test_the_list_filters_and_pages_by_cursor(self, auditor):
        alerts = [a_firing_alert(state=AlertState.RESOLVED, resolved_at=timezone.now()) for _ in range(3)]
        firing = a_firing_alert(severity="warning")
        client = browser_login(auditor)
        body = client.get("/api/alerts?state=resolved&limit=2").json()
        assert [row["id"] for row in body["results"]] == [alerts[2].pk, alerts[1].pk]
        assert [row["id"] for row in body["firing"]] == [firing.pk]
        older = client.get(body["next"]).json()
        assert [row["id"] for row in older["results"]] == [alerts[0].pk] and older["next"] is None
        bad = client.get("/api/alerts?severity=loud")
        assert bad.status_code == 400 and "info" in bad.json()["error"]


class AckBannerTests:
    def test_the_banner_form_acknowledges_and_shows_the_owner(self, operator):
        alert = a_firing_alert()
        client = browser_login(operator)
        page = client.get("/admin/ops/").content.decode()
        assert 'id="alert-banners-operations"' in page and "Error rate of web is 7.4 %" in page
        response = client.post(
            f"/admin/ops/alerts/{alert.pk}/ack/", {"comment": "looking", "page": "operations"},
            HTTP_HX_REQUEST="true", **csrf_header(client),
        )  # fmt: skip
        assert response.status_code == 200
        html = response.content.decode()
        assert "Acknowledged by <strong>olivia</strong>" in html and "looking" in html

    def test_a_viewer_sees_the_banner_without_the_button(self, auditor):
        a_firing_alert()
        html = browser_login(auditor).get("/admin/ops/monitoring/").content.decode()
        assert 'id="alert-banners-monitoring"' in html and 'role="alert"' in html
        assert 'data-action="ack-alert"' not in html
