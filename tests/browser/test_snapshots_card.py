from __future__ import annotations

import re

import pytest

from audit.models import AuditLog
from indexes.models import IndexSnapshot
from indexes.services.reindex import index_rebuild
from indexes.snapshots.services import snapshot_save, snapshots_card_changed
from operations.models import Job
from tests.browser import dialogs
from tests.browser.test_dashboard import log_in
from tests.indexes.index_factories import RunCtx, entries_with_vectors, unit_rows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def dashboard_with_a_snapshot(page, operator, *, seed: int, live: bool = True) -> IndexSnapshot:
    """A served index, one snapshot of it, and the operator's dashboard open, live or polling."""
    entries_with_vectors(unit_rows(20, seed=seed), prefix=f"s{seed}")
    index_rebuild(RunCtx(), {})
    snapshot = snapshot_save(source="job", actor=operator, correlation_id=None)
    if not live:
        page.route_web_socket(re.compile(r".*/ws/ops/.*"), lambda ws: ws.close(code=1011, reason="down for the test"))
    log_in(page, operator)
    page.goto("/admin/ops/")
    # The socket's snapshot on connect re-renders every card; act once it has arrived.
    page.wait_for_selector("#ops-live.ops-live-on" if live else "#ops-live.ops-live-stale")
    return snapshot


class SnapshotsCardBrowserTests:
    def test_restore_asks_for_the_typed_name_and_delete_asks_to_confirm(self, page, operator):
        snapshot = dashboard_with_a_snapshot(page, operator, seed=61)
        row = page.locator(f'#snapshots-card tr[data-snapshot="{snapshot.pk}"]')
        row.locator('input[name="confirm"]').fill("not the name")
        row.locator('button[data-action="restore"]').click()
        assert dialogs.confirm(page).startswith(f"Restore the index from {snapshot.name}?")
        page.wait_for_selector("#snapshots-card .ops-inline-error")
        assert f"type the snapshot's name exactly: {snapshot.name}" in page.inner_text(
            "#snapshots-card .ops-inline-error"
        )
        assert not Job.objects.filter(type="restore").exists()
        page.screenshot(path="/tmp/snapshots_card.png", full_page=True)

        page.locator(f'#snapshots-card tr[data-snapshot="{snapshot.pk}"] button[data-action="delete-snapshot"]').click()
        asked = dialogs.confirm(page)
        # The answer says "Deleted …"; a live push of the card may replace it right after, so wait for the row to go.
        page.wait_for_selector(f'#snapshots-card tr[data-snapshot="{snapshot.pk}"]', state="detached")
        assert asked == f"Delete the snapshot {snapshot.name}? This cannot be undone."
        assert not IndexSnapshot.objects.filter(pk=snapshot.pk).exists()
        assert AuditLog.objects.filter(action="snapshot.delete", target=snapshot.name).exists()

    def test_a_live_push_of_the_card_keeps_the_answer_and_what_the_operator_is_typing(self, page, operator):
        snapshot = dashboard_with_a_snapshot(page, operator, seed=62)
        confirm = f"#confirm-{snapshot.pk}"
        page.fill(confirm, "not the name")
        page.locator(f'#snapshots-card tr[data-snapshot="{snapshot.pk}"] button[data-action="restore"]').click()
        dialogs.confirm(page)
        page.wait_for_selector("#snapshots-card-answer .ops-inline-error")
        page.fill(confirm, "half typ")  # the operator starts over, and is still typing

        page.eval_on_selector("#snapshots-card", "el => { el.dataset.before = 'push'; }")
        snapshots_card_changed()  # what any snapshot job does: push the card to every dashboard
        page.wait_for_selector("#snapshots-card:not([data-before])")  # the pushed card replaced the old one

        assert "type the snapshot's name exactly" in page.inner_text("#snapshots-card-answer")
        assert page.input_value(confirm) == "half typ"
        assert page.evaluate("document.activeElement.id") == f"confirm-{snapshot.pk}"
        page.keyboard.type("ed")  # typing goes on where it was
        assert page.input_value(confirm) == "half typed"

    def test_a_poll_of_the_card_while_the_socket_is_down_keeps_what_the_operator_is_typing(self, page, operator):
        snapshot = dashboard_with_a_snapshot(page, operator, seed=63, live=False)
        confirm = f"#confirm-{snapshot.pk}"
        page.fill(confirm, "half typ")
        page.eval_on_selector("#snapshots-card", "el => { el.dataset.before = 'poll'; }")
        page.wait_for_selector("#snapshots-card:not([data-before])", timeout=15_000)  # the 10 s poll replaced it
        assert page.input_value(confirm) == "half typ"
        assert page.evaluate("document.activeElement.id") == f"confirm-{snapshot.pk}"
