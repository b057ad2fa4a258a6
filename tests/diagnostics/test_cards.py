"""The diagnostics' banners on every ops page (a frame card), and no 500 when a credential file goes away."""

from __future__ import annotations

import os

import pytest
from django.test import Client

from indexes.models import CredentialKind
from indexes.peers import services
from monitoring.models import WorkerHeartbeat
from operations import cards

pytestmark = pytest.mark.django_db

PAGES = {
    "operations": "/admin/ops/",
    "monitoring": "/admin/ops/monitoring/",
    "alerts": "/admin/ops/alerts/",
    "settings": "/admin/ops/settings/",
}


class BannerTests:
    def test_every_ops_page_has_a_banner_card_in_its_frame(self):
        for page in PAGES:
            assert f"diagnostic-banners-{page}" in [card.name for card in cards.frame_cards(page)]

    def test_a_deleted_credential_file_shows_on_every_page_and_nothing_fails(self, settings, superuser):
        WorkerHeartbeat.objects.all().delete()
        services.credential_set(
            name="github", kind=CredentialKind.GIT_TOKEN, secret="s3cret-token", actor=None, source="cli"
        )
        os.unlink(settings.CREDENTIALS_DIR / "github")
        client = Client()
        client.force_login(superuser)
        for page, url in PAGES.items():
            response = client.get(url)
            assert response.status_code == 200, page
            html = response.content.decode()
            assert f'id="diagnostic-banners-{page}"' in html
            assert 'data-diagnostic="credential-unreadable:github"' in html and 'data-diagnostic="no-worker"' in html
            assert "s3cret-token" not in html
        partial = client.get("/admin/ops/partials/card/diagnostic-banners-operations/")
        assert partial.status_code == 200 and "The secret of credential github is missing" in partial.content.decode()
        api = client.get("/api/diagnostics")
        assert api.status_code == 200 and "credential-unreadable:github" in [d["id"] for d in api.json()["diagnostics"]]
        assert "s3cret-token" not in api.content.decode()

    def test_severity_is_an_icon_and_a_word_in_a_status_region(self, superuser):
        WorkerHeartbeat.objects.all().delete()
        client = Client()
        client.force_login(superuser)
        html = client.get("/admin/ops/").content.decode()
        banner = html[html.index('id="diagnostic-banners-operations"') :]
        assert 'role="status"' in banner and 'aria-hidden="true">✖</span>' in banner and ">Critical</strong>" in banner
        assert "Fix: Start one with" in banner
        assert "style=" not in banner
