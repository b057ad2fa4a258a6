"""Diagnostics in Chromium: a credential file deleted by hand shows its banner on the Operations page without reload."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from indexes.models import CredentialKind
from indexes.peers import services
from operations.models import Job
from tests.browser.scenes import open_page
from tests.browser.test_dashboard import log_in
from tests.conftest import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BANNER = '#diagnostic-banners-operations [data-diagnostic="credential-unreadable:diag-browser"]'


class DiagnosticBannerBrowserTests:
    def test_a_deleted_credential_file_shows_a_banner_live_after_the_next_job(self, page, operator, worker):
        saved = services.credential_set(
            name="diag-browser",
            kind=CredentialKind.GIT_TOKEN,
            secret="planted-browser-secret",
            actor=None,
            source="cli",
        )
        wait_for(lambda: not Job.objects.get(pk=saved.job.pk).is_active, timeout=60, message="the first verify to end")
        log_in(page, operator)
        open_page(page, "/admin/ops/")
        page.evaluate("() => { window.notReloaded = true; }")
        assert page.locator(BANNER).count() == 0

        os.unlink(settings.CREDENTIALS_DIR / "diag-browser")  # by hand, behind the application's back
        services.verify_start(credential="diag-browser", actor=None, source="cli")  # its end refreshes the diagnostics
        banner = page.wait_for_selector(BANNER, timeout=30_000)
        text = banner.text_content()
        assert "Critical" in text and "is missing" in text and "Fix: Set it again on the Settings page." in text
        assert page.evaluate("window.notReloaded") is True
        assert "planted-browser-secret" not in page.content()
        assert banner.evaluate("el => el.closest('[role=status]') !== null")
