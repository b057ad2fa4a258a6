"""The Settings page in Chromium: a saved credential's tile turns queued → verified by itself, no reload."""

from __future__ import annotations

import uuid

import pytest

from chlops.credentials import credential_delete
from tests.browser.scenes import open_page
from tests.browser.test_dashboard import log_in
from tests.indexes.peer_factories import verify_jobs_wait

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Note every state the tile shows, in order, as the pushes swap it in (the card is replaced whole).
WATCH_TILE = """(id) => {
  window.tileStates = [];
  const note = () => {
    const tile = document.getElementById(id);
    const state = tile && tile.dataset.tileState;
    if (state && window.tileStates[window.tileStates.length - 1] !== state) window.tileStates.push(state);
  };
  new MutationObserver(note).observe(document.body, {subtree: true, childList: true, attributes: true});
  window.notReloaded = true;
}"""


class SettingsBrowserTests:
    def test_a_saved_credential_turns_queued_then_verified_live(self, page, superuser, worker):
        name = f"git{uuid.uuid4().hex[:8]}"  # the worker reads the shared credentials dir
        tile = f"#tile-verify-credential-{name}"
        log_in(page, superuser)
        open_page(page, "/admin/ops/settings/")
        page.evaluate(WATCH_TILE, tile[1:])
        try:
            with verify_jobs_wait():
                page.fill("#id_credential-name", name)
                page.select_option("#id_credential-kind", "git_token")
                page.fill("#id_credential-secret", "browser-secret-93e1")
                page.click('button[data-action="save-credential"]')
                page.wait_for_selector(f'{tile}[data-tile-state="queued"]')
                assert page.is_disabled(f"{tile} button")  # no second verification while one waits
            page.wait_for_selector(f'{tile}[data-tile-state="succeeded"]', timeout=30_000)
        finally:
            credential_delete(name)
        states = page.evaluate("window.tileStates")
        assert states[0] == "queued" and states[-1] == "succeeded", states
        assert page.evaluate("window.notReloaded") is True
        assert page.is_enabled(f"{tile} button") and page.inner_text(f"{tile} .ops-state-text") == "verified"
        assert page.locator(f'#credentials-card tr[data-credential="{name}"]').count() == 1
        assert "browser-secret-93e1" not in page.content()
        assert page.input_value("#id_credential-secret") == ""  # the answer brought the form back empty
        assert "verifies it in the background" in page.inner_text("#credential-form .ops-notice")
