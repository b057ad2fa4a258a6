from __future__ import annotations

import re

import pytest

from audit.services import audit_record
from operations.models import Job, JobState
from tests.browser import dialogs
from tests.conftest import PASSWORD, wait_for
from tests.gates import advance, hold

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/dashboard.png"


def log_in(page, user) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


def progress_of(page, job_id: int) -> float:
    return page.eval_on_selector(f"#job-{job_id} progress", "el => el.value")


def shown_progress(page, job_id: int) -> float:
    """The job's progress bar as the page shows it now; 0 while its row is not there yet."""
    return page.evaluate(f"() => document.querySelector('#job-{job_id} progress')?.value ?? 0")


def write_corpus(path, rows: int) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write("kind,external_id,title,body,tags\n")
        for i in range(rows):
            out.write(f'manual,m{i},Manual {i},"How to do thing {i}, step by step",ops\n')


class OperatorDashboardTests:
    def test_upload_and_import_watch_progress_live_and_cancel_it_live(self, page, operator, worker, tmp_path):
        corpus = tmp_path / "entries.csv"
        write_corpus(corpus, 300_000)
        log_in(page, operator)
        page.goto("/admin/ops/")
        page.wait_for_selector("#ops-live.ops-live-on")
        page.evaluate("window.__notReloaded = true")

        with hold("import", phase="importing"):  # it moves a checkpoint at a time, while the test watches
            page.set_input_files("#id_import-upload-file", str(corpus))
            page.get_by_role("button", name="Upload and import").click()
            notice = page.wait_for_selector("#run-card .ops-notice", timeout=60_000)
            job_id = int(re.search(r"import job #(\d+)", notice.inner_text()).group(1))

            advance(job_id, until=lambda: shown_progress(page, job_id) > 0)
            first = progress_of(page, job_id)
            advance(job_id, until=lambda: shown_progress(page, job_id) > first)
            assert page.inner_text(f"#job-{job_id} .ops-phase") == "importing"

            page.click(f"#job-{job_id} button.ops-cancel")
            assert dialogs.confirm(page) == f"Cancel import job #{job_id}? A running job stops at its next checkpoint."
            wait_for(lambda: Job.objects.get(pk=job_id).cancel_requested_at, message="the cancel to be asked")
        page.wait_for_selector(f'#job-{job_id}[data-state="cancelled"]')
        assert page.evaluate("window.__notReloaded") is True
        assert Job.objects.get(pk=job_id).state == JobState.CANCELLED

    def test_start_a_canary_watch_progress_live_and_cancel_it_live(self, page, operator, worker):
        log_in(page, operator)
        operations = page.locator("#content-main .module", has=page.locator("caption", has_text="Operations"))
        operations.locator('a[href="/admin/ops/"]', has_text="Dashboard").click()
        page.wait_for_url("**/admin/ops/")
        page.wait_for_selector("#ops-live.ops-live-on")
        page.evaluate("window.__notReloaded = true")

        # The canary ticks at its own pace (so its ETA is real) and parks halfway until the test has cancelled it.
        with hold("canary", done=200):  # of its 400 ticks
            page.fill("#id_canary-seconds", "20")
            page.get_by_role("button", name="Start canary").click()
            notice = page.wait_for_selector("#run-card .ops-notice")
            job_id = int(re.search(r"canary job #(\d+)", notice.inner_text()).group(1))

            advance(job_id, until=lambda: shown_progress(page, job_id) > 0)
            first = progress_of(page, job_id)
            advance(job_id, until=lambda: shown_progress(page, job_id) > first)
            assert page.inner_text(f"#job-{job_id} .ops-state-text") == "running"
            page.wait_for_function(
                f"() => /about \\d+ s left/.test(document.querySelector('#job-{job_id} .ops-eta').textContent)"
            )
            page.screenshot(path=SCREENSHOT, full_page=True)

            # Keyboard: focus stays on Cancel while pushed updates replace the row under it.
            page.focus(f"#job-{job_id}-cancel")
            now = progress_of(page, job_id)
            advance(job_id, until=lambda: shown_progress(page, job_id) > now)
            assert page.evaluate("document.activeElement.id") == f"job-{job_id}-cancel"
            page.keyboard.press("Enter")
            dialogs.confirm(page)  # pushed updates keep replacing the row meanwhile; the confirmed cancel still goes
            wait_for(lambda: Job.objects.get(pk=job_id).cancel_requested_at, message="the cancel to be asked")
        page.wait_for_selector(f'#job-{job_id}[data-state="cancelled"]')
        assert page.inner_text(f"#job-{job_id} .ops-state-text") == "cancelled"
        assert page.is_visible(f"#job-{job_id} button.ops-retry")
        assert page.evaluate("window.__notReloaded") is True
        assert Job.objects.get(pk=job_id).state == JobState.CANCELLED

    def test_the_detail_page_follows_the_job_live(self, page, operator, worker):
        log_in(page, operator)
        page.goto("/admin/ops/")
        page.wait_for_selector("#ops-live.ops-live-on")
        page.fill("#id_canary-seconds", "1.5")
        page.get_by_role("button", name="Start canary").click()
        page.click("#run-card .ops-notice a")
        page.wait_for_url(re.compile(r".*/admin/ops/jobs/\d+/$"))
        page.wait_for_selector('.ops-detail[data-state="succeeded"]', timeout=10_000)
        assert "succeeded" in page.inner_text(".ops-timeline")
        page.screenshot(path="/tmp/job_detail.png", full_page=True)


class LiveIndicatorTests:
    def test_the_indicator_says_live_when_the_socket_is_connected(self, page, operator):
        log_in(page, operator)
        page.goto("/admin/ops/")
        page.wait_for_selector("#ops-live.ops-live-on")
        assert page.inner_text("#ops-live .ops-live-text") == "Live"

    def test_while_the_socket_is_down_cards_poll_and_it_recovers_by_itself(self, page, operator):
        down = {"value": True}

        def route(ws) -> None:
            if down["value"]:
                ws.close(code=1011, reason="down for the test")
            else:
                ws.connect_to_server()

        page.route_web_socket(re.compile(r".*/ws/ops/.*"), route)
        log_in(page, operator)
        page.goto("/admin/ops/")
        page.wait_for_selector("#ops-live.ops-live-stale")
        assert re.fullmatch(r"Stale since \d\d:\d\d:\d\d — .*", page.inner_text("#ops-live .ops-live-text"))

        job = Job.objects.create(type="canary", state=JobState.QUEUED, requested_by=operator)
        page.wait_for_selector(f"#job-{job.pk}", timeout=15_000)  # brought by the 10 s poll

        down["value"] = False
        page.wait_for_selector("#ops-live.ops-live-on", timeout=15_000)


class AuditorTests:
    def test_auditor_sees_the_dashboard_without_controls_and_a_read_only_audit_log(self, page, auditor):
        running = Job.objects.create(type="canary", state=JobState.RUNNING, done=2, total=10)
        Job.objects.create(type="canary", state=JobState.FAILED, error="boom")
        audit_record(action="job.start", source="cli", target=str(running))
        log_in(page, auditor)

        page.goto("/admin/ops/")
        page.wait_for_selector("#ops-live.ops-live-on")
        assert page.is_visible(f"#job-{running.pk}")
        assert page.locator("#run-card").count() == 0
        assert page.locator("button.ops-cancel, button.ops-retry").count() == 0
        page.screenshot(path="/tmp/dashboard_auditor.png", full_page=True)

        page.goto("/admin/audit/auditlog/")
        assert page.locator("#result_list tbody tr").count() >= 1
        assert page.locator("a.addlink").count() == 0
        assert page.locator('select[name="action"] option[value="delete_selected"]').count() == 0
        page.locator("#result_list tbody tr th a").first.click()
        assert page.locator("input[name=_save], a.deletelink").count() == 0
