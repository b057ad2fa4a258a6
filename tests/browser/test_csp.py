"""The strict Content-Security-Policy, as Chromium enforces it: no page of ours breaks a rule of it."""

from __future__ import annotations

import pytest
from django_celery_beat.models import CrontabSchedule

from tests.browser import dialogs
from tests.browser.scenes import busy_scene, open_page
from tests.browser.test_dashboard import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# An init script runs before the page's own scripts and is not subject to its CSP; it records every
# report Chromium makes, across swaps and pushes, until the test reads them.
RECORD = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber} ${e.sample}`);
});
"""


@pytest.fixture
def watched_page(browser, web_server):
    """A page under the real CSP (no bypass) that records violation events and CSP console errors."""
    context = browser.new_context(base_url=web_server, viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(30_000)
    context.add_init_script(RECORD)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text) if "Content Security Policy" in message.text else None)
    yield page, console
    context.close()


def violations(page) -> list[str]:
    return page.evaluate("window.__csp")


class CspTests:
    def test_no_ops_page_nor_the_audit_log_reports_a_violation(self, watched_page, superuser, operator, worker):
        page, console = watched_page
        scene = busy_scene(operator, seed=91)
        log_in(page, superuser)
        found = {}
        for path in [*scene.ops_pages(), "/admin/audit/auditlog/"]:
            response = open_page(page, path)  # on ops pages: the websocket connected, under connect-src 'self'
            assert "script-src 'self'" in response.headers["content-security-policy"]
            found[path] = violations(page)
        assert found == {path: [] for path in found}
        assert console == []

    def test_using_the_dashboard_reports_no_violation(self, watched_page, operator):
        page, console = watched_page
        scene = busy_scene(operator, seed=92)
        log_in(page, operator)
        open_page(page, "/admin/ops/")
        page.click("#ops-onboarding summary")  # collapse, remembered in localStorage
        page.click("#ops-refresh")  # a snapshot of every card over the socket, swapped in by htmx
        page.wait_for_selector("#ops-toasts-polite .ops-toast")
        page.click(f"#job-{scene.running.pk}-cancel")
        dialogs.dismiss(page)
        page.fill("#id_import-path-path", "/etc/passwd")
        page.click('form[data-operation="import-path"] button')  # refused: the card swaps in with its error
        page.wait_for_selector("#ops-toasts-assertive .ops-toast-error")
        page.fill("#search-q", "scene")
        page.get_by_role("button", name="Search", exact=True).click()
        page.wait_for_selector("#search-results table")
        assert violations(page) == []
        assert console == []

    def test_the_admin_pages_report_no_violation(self, watched_page, superuser):
        page, console = watched_page
        schedule = CrontabSchedule.objects.create(minute="0", hour="4")
        page.goto("/admin/login/")
        found = {"/admin/login/": violations(page)}
        log_in(page, superuser)
        for path in [
            "/admin/",
            "/admin/auth/user/",
            f"/admin/auth/user/{superuser.pk}/change/",
            "/admin/django_celery_beat/periodictask/add/",
        ]:
            response = page.goto(path)
            assert response.status == 200, path
            found[path] = violations(page)
        page.select_option("#id_crontab", str(schedule.pk))  # the crontab in words, from a static script now
        assert "Translation: At 04:00" in page.inner_text(".field-crontab .help")
        found["/admin/django_celery_beat/periodictask/add/"] += violations(page)
        assert found == {path: [] for path in found}
        assert console == []
