"""Alert preferences: each viewer chooses the metrics and modules of their banners and the sound; the page carries
them for alerts.js, since banners render once for everyone."""

from __future__ import annotations

import html
import json
import re

import pytest

from alerts.models import AlertPreference
from audit.models import AuditLog
from tests.alerts.test_ack import a_firing_alert
from tests.sessions import browser_login, csrf_header

pytestmark = pytest.mark.django_db

URL = "/admin/ops/alerts/preferences/"


def preference_in(page: str) -> dict:
    found = re.search(r'<meta name="chlops-alert-preference" content="([^"]*)">', page)
    assert found, "no preference meta in the page"
    return json.loads(html.unescape(found.group(1)))


class PreferenceTests:
    def test_the_default_is_every_alert_and_no_sound_without_writing_a_row(self, operator):
        client = browser_login(operator)
        page = client.get("/admin/ops/").content.decode()
        assert preference_in(page) == {"metrics": [], "modules": [], "sound": False}
        assert 'src="/static/alerts/alerts.js"' in page
        assert not AlertPreference.objects.exists()

    def test_an_auditor_saves_their_own_and_every_ops_page_carries_it(self, auditor):
        client = browser_login(auditor)
        form = {"metrics": ["queue_length", "error_rate"], "modules": ["web"], "sound": "on"}
        response = client.post(URL, form, **csrf_header(client))
        assert response.status_code == 200 and "Preferences saved." in response.content.decode()
        for url in ("/admin/ops/", "/admin/ops/alerts/"):
            found = preference_in(client.get(url).content.decode())
            assert found == {"metrics": ["error_rate", "queue_length"], "modules": ["web"], "sound": True}
        assert AuditLog.objects.get(action="alert_preference.update").details["sound"] is True
        client.post(URL, {}, **csrf_header(client))
        assert preference_in(client.get("/admin/ops/").content.decode())["sound"] is False

    @pytest.mark.parametrize(
        "form, words", [({"metrics": ["mood"]}, "Unknown metric 'mood'"), ({"modules": ["x"]}, "Unknown module 'x'")]
    )
    def test_unknown_choices_are_400_with_a_sentence(self, operator, form, words):
        client = browser_login(operator)
        response = client.post(URL, form, **csrf_header(client))
        assert response.status_code == 400 and words in html.unescape(response.content.decode())
        assert not AlertPreference.objects.exists()

    def test_banners_carry_their_metric_and_module_for_the_filter(self, operator):
        alert = a_firing_alert(module="web")
        page = browser_login(operator).get("/admin/ops/").content.decode()
        assert f'data-alert="{alert.pk}" data-severity="critical" data-metric="error_rate" data-module="web"' in page
