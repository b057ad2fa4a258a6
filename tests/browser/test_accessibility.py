"""axe-core on every ops page and the audit changelist, in the admin's light and dark themes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import dialogs
from tests.browser.scenes import AXE, busy_scene, open_page
from tests.browser.test_dashboard import log_in
from tests.conftest import BASE_DIR

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BLOCKING = ("serious", "critical")


def axe_problems(page) -> list[str]:
    """Serious and critical violations on the page as it is now, one line each."""
    # Evaluated rather than added as a <script>: the page's CSP allows no inline script, and DevTools
    # evaluation is not subject to it, so the check runs against the page exactly as served.
    page.evaluate(Path(BASE_DIR / AXE).read_text())
    violations = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {', '.join(' '.join(n['target']) for n in v['nodes'][:5])}"
        for v in violations
        if v["impact"] in BLOCKING
    ]


@pytest.fixture(params=["light", "dark"])
def themed_page(request, browser, web_server):
    """A page in the admin theme chosen with its toggle (stored in localStorage), under the matching OS scheme."""
    context = browser.new_context(base_url=web_server, viewport={"width": 1280, "height": 1000}, color_scheme=request.param)
    context.set_default_timeout(30_000)
    context.add_init_script(f"window.localStorage.setItem('theme', '{request.param}')")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page, request.param
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


class AxeTests:
    def test_ops_pages_and_the_audit_log_have_no_serious_violation(self, themed_page, superuser, operator, worker):
        page, theme = themed_page
        scene = busy_scene(operator, seed=81)
        log_in(page, superuser)
        open_page(page, "/admin/ops/")
        page.wait_for_selector('#workers-card tr[data-state="online"]', timeout=20_000)
        problems = {}
        for path in [*scene.ops_pages(), "/admin/audit/auditlog/"]:
            open_page(page, path)
            assert page.evaluate("document.documentElement.dataset.theme") == theme
            page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")  # data tables too
            problems[path] = axe_problems(page)
        assert problems == {path: [] for path in problems}

    def test_toasts_and_the_confirmation_dialog_have_no_serious_violation(self, themed_page, operator):
        page, _ = themed_page
        scene = busy_scene(operator, seed=82)
        log_in(page, operator)
        open_page(page, "/admin/ops/")
        page.evaluate("window.chlopsOps.toast('success', 'Started canary job #1.')")
        page.evaluate("window.chlopsOps.toast('error', 'Already running: canary job #1 (queued).')")
        assert axe_problems(page) == []
        page.click(f"#job-{scene.running.pk}-cancel")
        dialogs.confirm_message(page)
        assert axe_problems(page) == []
        dialogs.dismiss(page)

    def test_what_auditors_and_other_staff_see_has_no_serious_violation(self, themed_page, auditor, plain_staff):
        page, _ = themed_page
        log_in(page, auditor)
        open_page(page, "/admin/ops/")
        assert axe_problems(page) == []
        page.context.clear_cookies()
        log_in(page, plain_staff)
        response = page.goto("/admin/ops/")
        assert response.status == 403  # the page that says why, in the admin's chrome
        assert axe_problems(page) == []
