"""GET /api/diagnostics: who may read it, and its shape."""

from __future__ import annotations

import pytest
from django.test import Client

from monitoring.models import WorkerHeartbeat
from operations import tokens

pytestmark = pytest.mark.django_db

URL = "/api/diagnostics"


class DiagnosticsApiTests:
    def test_anonymous_is_401(self):
        assert Client().get(URL).status_code == 401

    def test_a_bearer_token_of_staff_gets_the_list(self, auditor):
        WorkerHeartbeat.objects.all().delete()
        raw = tokens.token_create(user=auditor, name="cron", source="cli")[1]
        response = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get(URL)
        assert response.status_code == 200
        found = response.json()["diagnostics"]
        no_worker = next(d for d in found if d["id"] == "no-worker")
        assert set(no_worker) == {"id", "level", "message", "fix"} and no_worker["level"] == "critical"

    def test_a_session_of_an_operator_gets_it(self, operator):
        client = Client(enforce_csrf_checks=True)
        client.force_login(operator)
        assert client.get(URL).status_code == 200

    def test_staff_outside_the_ops_groups_is_403(self, plain_staff):
        client = Client()
        client.force_login(plain_staff)
        response = client.get(URL)
        assert response.status_code == 403 and response.json()
