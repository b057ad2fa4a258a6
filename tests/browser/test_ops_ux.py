"""The Operations page as a person uses it: onboarding, toasts, confirmations, refresh, a tablet's width."""

from __future__ import annotations

import re

import pytest

from operations import broadcasts
from operations.models import Job, JobState
from operations.workers import workers_resume
from tests.browser import dialogs
from tests.browser.conftest import page_at
from tests.browser.scenes import busy_scene, open_page
from tests.browser.test_dashboard import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TABLET = {"width": 768, "height": 1024}


def queued_job(operator) -> Job:
    """A job that waits in the table with a Cancel button (it is never sent to a worker)."""
    return Job.objects.create(type="canary", state=JobState.QUEUED, requested_by=operator, params={"seconds": 1})


def focused(page) -> str:
    return page.evaluate("document.activeElement.id || document.activeElement.className")


class OnboardingTests:
    def test_the_card_collapses_by_keyboard_and_stays_collapsed_for_that_user_only(self, page, operator, auditor):
        log_in(page, operator)
        open_page(page, "/admin/ops/")
        card = "#ops-onboarding"
        assert page.eval_on_selector(card, "el => el.open") is True
        assert "Run jobs." in page.inner_text(card) and page.locator(f'{card} a[href="#workers-card"]').count() == 1

        page.focus(f"{card} summary")
        page.keyboard.press("Enter")
        assert page.eval_on_selector(card, "el => el.open") is False

        open_page(page, "/admin/ops/")  # again, as after a reload or the next visit
        assert page.eval_on_selector(card, "el => el.open") is False

        page.context.clear_cookies()  # another person signs in on the same browser
        log_in(page, auditor)
        open_page(page, "/admin/ops/")
        assert page.eval_on_selector(card, "el => el.open") is True


class HeadingTests:
    def test_the_heading_says_where_the_portal_listens_and_who_it_is_for(self, page, operator, web_server):
        log_in(page, operator)
        open_page(page, "/admin/ops/")
        host = web_server.removeprefix("http://")
        assert page.inner_text(".ops-where") == (
            f"Listening on {host} — for staff only; bound to localhost by default."
        )


class ToastTests:
    def test_a_success_toast_is_announced_politely_and_leaves_by_itself(self, page, operator):
        job = queued_job(operator)
        log_in(page, operator)
        open_page(page, "/admin/ops/")
        page.click(f"#job-{job.pk}-cancel")
        dialogs.confirm(page)
        page.mouse.move(0, 0)  # a toast under the pointer waits for it to leave

        toast = page.wait_for_selector("#ops-toasts-polite .ops-toast")
        assert toast.inner_text().startswith(f"Cancelled canary job #{job.pk}.")
        assert page.get_attribute("#ops-toasts-polite", "aria-live") == "polite"
        page.wait_for_selector("#ops-toasts-polite .ops-toast", state="detached", timeout=15_000)
        assert Job.objects.get(pk=job.pk).state == JobState.CANCELLED

    def test_a_failure_toast_is_an_alert_that_escape_or_its_button_dismisses(self, page, operator):
        jobs = [queued_job(operator), queued_job(operator)]
        log_in(page, operator)
        open_page(page, "/admin/ops/")
        # Both finish behind the page's back (no push), so their Cancel buttons are refused.
        Job.objects.filter(pk__in=[j.pk for j in jobs]).update(state=JobState.SUCCEEDED)

        page.click(f"#job-{jobs[0].pk}-cancel")
        dialogs.confirm(page)
        toast = page.wait_for_selector("#ops-toasts-assertive .ops-toast-error")
        assert f"canary job #{jobs[0].pk} has already succeeded; there is nothing to cancel." in toast.inner_text()
        assert page.get_attribute("#ops-toasts-assertive", "role") == "alert"
        page.keyboard.press("Escape")
        page.wait_for_selector(".ops-toast", state="detached", timeout=2_000)

        page.click(f"#job-{jobs[1].pk}-cancel")
        dialogs.confirm(page)
        page.wait_for_selector("#ops-toasts-assertive .ops-toast-error")
        page.focus(".ops-toast-close")
        assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Dismiss"
        page.keyboard.press("Enter")
        page.wait_for_selector(".ops-toast", state="detached", timeout=2_000)
        assert page.evaluate("document.activeElement !== document.body")  # focus went back into the page


    def test_an_action_that_cannot_reach_the_server_says_so(self, page, operator):
        job = queued_job(operator)
        log_in(page, operator)
        open_page(page, "/admin/ops/")
        page.route(f"**/admin/ops/jobs/{job.pk}/cancel/", lambda route: route.abort("connectionrefused"))
        page.click(f"#job-{job.pk}-cancel")
        dialogs.confirm(page)
        toast = page.wait_for_selector("#ops-toasts-assertive .ops-toast-error")
        assert toast.inner_text().startswith("The server could not be reached; the action may not have happened.")


class ConfirmDialogTests:
    def test_cancel_job_escape_cancels_and_returns_focus_and_the_confirm_button_proceeds(self, page, operator):
        job = queued_job(operator)
        log_in(page, operator)
        open_page(page, "/admin/ops/")
        button = f"#job-{job.pk}-cancel"

        page.focus(button)
        page.keyboard.press("Enter")
        assert dialogs.confirm_message(page) == f"Cancel canary job #{job.pk}? A running job stops at its next checkpoint."
        assert page.evaluate("document.activeElement.closest('dialog') !== null")  # focus moved into the dialog
        assert page.inner_text("#ops-confirm-title") == "Cancel this job?"
        page.keyboard.press("Escape")
        page.wait_for_selector(dialogs.OPEN, state="detached")
        assert focused(page) == f"job-{job.pk}-cancel"
        assert Job.objects.get(pk=job.pk).state == JobState.QUEUED

        page.keyboard.press("Enter")
        dialogs.confirm_message(page)
        page.keyboard.press("Tab")
        assert page.inner_text(":focus") == "Cancel the job"
        page.keyboard.press("Space")
        page.wait_for_selector(f'#job-{job.pk}[data-state="cancelled"]')
        assert Job.objects.get(pk=job.pk).state == JobState.CANCELLED

    def test_a_push_that_replaces_the_row_while_asking_does_not_lose_the_confirmed_cancel(self, page, operator):
        job = queued_job(operator)
        log_in(page, operator)
        open_page(page, "/admin/ops/")
        page.eval_on_selector(f"#job-{job.pk}", "row => { row.dataset.before = 'push'; }")
        page.click(f"#job-{job.pk}-cancel")
        dialogs.confirm_message(page)
        broadcasts.job_changed(job.pk)  # what a worker's progress does, many times a second
        page.wait_for_selector(f"#job-{job.pk}:not([data-before])", state="attached")
        dialogs.confirm(page)
        page.wait_for_selector(f'#job-{job.pk}[data-state="cancelled"]')
        assert focused(page) != "" and Job.objects.get(pk=job.pk).state == JobState.CANCELLED

    def test_pause_worker_asks_first_and_pauses_only_when_confirmed(self, page, operator, worker):
        log_in(page, operator)
        open_page(page, "/admin/ops/")
        pause = page.wait_for_selector('#workers-card tr[data-state="online"] button[aria-label^="Pause "]', timeout=20_000)
        button_id = pause.get_attribute("id")
        hostname = pause.get_attribute("aria-label").removeprefix("Pause ")
        try:
            pause.focus()
            page.keyboard.press("Space")
            assert dialogs.dismiss(page).startswith(f"Pause {hostname}? It finishes the job it is running")
            assert focused(page) == button_id
            assert page.locator(f'#workers-card tr[data-worker="{hostname}"][data-state="online"]').count() == 1

            page.keyboard.press("Enter")
            assert dialogs.confirm(page).startswith(f"Pause {hostname}?")
            page.wait_for_selector(f'#workers-card tr[data-worker="{hostname}"][data-state="paused"]', timeout=15_000)
            toast = page.wait_for_selector("#ops-toasts-polite .ops-toast")
            assert f"Paused {hostname}." in toast.inner_text()
        finally:
            workers_resume(source="system")  # the session's worker serves the other tests

    def test_every_disruptive_control_asks_in_the_dialog_and_none_uses_window_confirm(self, page, operator, worker):
        busy_scene(operator, seed=71)
        asked: list[str] = []
        page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
        log_in(page, operator)
        open_page(page, "/admin/ops/")
        page.wait_for_selector('#workers-card tr[data-state="online"]', timeout=20_000)
        controls = [
            ".ops-jobs-card button.ops-cancel",
            '#workers-card tr[data-state="online"] button[aria-label^="Pause "]',
            "#workers-pause-all",
            "#workers-drain",
            'button[data-action="restore"]',
            'button[data-action="delete-snapshot"]',
        ]
        page.fill('input[name="confirm"]', "the name, typed")  # restore asks for the typed name first
        for control in controls:
            page.click(control)
            assert dialogs.dismiss(page), control
        assert asked == []


class RefreshTests:
    def test_refresh_asks_the_socket_for_every_card_again(self, page, operator):
        log_in(page, operator)
        open_page(page, "/admin/ops/")
        page.eval_on_selector("#latest-runs", "el => { el.dataset.before = 'refresh'; }")
        page.click("#ops-refresh")
        page.wait_for_selector("#latest-runs:not([data-before])")
        assert re.fullmatch(r"Refreshed at \d\d:\d\d:\d\d\.", page.inner_text("#ops-toasts-polite .ops-toast-text"))

    def test_refresh_polls_every_card_while_the_socket_is_down(self, page, operator):
        page.route_web_socket(re.compile(r".*/ws/ops/.*"), lambda ws: ws.close(code=1011, reason="down for the test"))
        log_in(page, operator)
        page.goto("/admin/ops/")
        page.wait_for_selector("#ops-live.ops-live-stale")
        page.eval_on_selector("#latest-runs", "el => { el.dataset.before = 'refresh'; }")
        page.click("#ops-refresh")
        page.wait_for_selector("#latest-runs:not([data-before])", timeout=5_000)  # well before the 10 s poll
        page.wait_for_selector("#ops-toasts-polite .ops-toast")


class TabletWidthTests:
    @pytest.fixture
    def tablet(self, browser, web_server):
        with page_at(browser, web_server, TABLET) as page:
            yield page

    def test_at_768_px_no_page_overflows_and_every_table_fits_its_card(self, tablet, operator, superuser, worker):
        scene = busy_scene(operator, seed=72)
        log_in(tablet, superuser)
        open_page(tablet, "/admin/ops/")
        tablet.wait_for_selector('#workers-card tr[data-state="online"]', timeout=20_000)
        for path in [*scene.ops_pages(), "/admin/audit/auditlog/"]:
            open_page(tablet, path)
            tablet.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")  # data tables too
            width = tablet.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], f"{path} is {width[0]} px wide at {width[1]} px"
            cut = tablet.evaluate(
                """() => [...document.querySelectorAll('.ops-card table')]
                    .filter(t => t.getBoundingClientRect().right > t.closest('.ops-card').getBoundingClientRect().right + 1)
                    .map(t => t.closest('.ops-card').id || t.className)"""
            )
            assert cut == [], f"{path}: tables wider than their card: {cut}"
            name = path.strip("/").replace("/", "-")
            tablet.screenshot(path=f"/tmp/ops-768-{name}.png", full_page=True, caret="initial")
