"""The 13 modules' checks: their verdicts, a hanging check cut at its timeout, the overall rule, a
round stored with its history, what a reader derives when Redis or the rounds are gone, and `health`."""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import threading
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from health_check import HealthCheck
from health_check.exceptions import ServiceUnavailable, ServiceWarning

from chlops.redis_clients import redis_client
from indexes.services.reindex import index_rebuild
from indexes.store import index_manifest, served_dir
from monitoring.health import beat, runner, selectors, services
from monitoring.health.modules import ALL, Module, module_get
from monitoring.metrics.series import CRITICAL, MODULES
from monitoring.models import HealthEvent, ModuleHealth
from operations.models import Job, JobState
from tests.audit.factories import record, tamper
from tests.indexes.index_factories import RunCtx, entries_with_vectors, unit_rows

RELEASE = threading.Event()


@pytest.fixture
def no_worker_seen(settings):
    """Whatever workers this test session started, this process sees each one's last beat as too old."""
    settings.CHLOPS_WORKER_HEARTBEAT_SECONDS = 0.001
    settings.CHLOPS_WORKER_OFFLINE_SECONDS = 0


@dataclasses.dataclass
class Hangs(HealthCheck):
    """Waits for a release that does not come in time."""

    timeout = datetime.timedelta(seconds=1)

    def run(self) -> None:
        RELEASE.wait(60)


@dataclasses.dataclass
class Answers(HealthCheck):
    """Answers at once, as told."""

    verdict: str = "healthy"
    pause: float = 0.0

    def run(self) -> None:
        time.sleep(self.pause)
        if self.verdict == "degraded":
            raise ServiceWarning("It is slow today")
        if self.verdict == "down":
            raise ServiceUnavailable("It is gone.")
        if self.verdict == "crash":
            raise ZeroDivisionError("oops")


def module(name: str, *checks: HealthCheck, slow_ms: float | None = None) -> Module:
    return Module(name, name.title(), "A module of this test.", lambda: checks, slow_ms=slow_ms)


def by_module(answers: list[runner.ModuleAnswer]) -> dict[str, runner.ModuleAnswer]:
    return {answer.module: answer for answer in answers}


class RunnerTests:
    def test_a_check_that_hangs_is_cut_at_its_timeout_and_the_others_answer_on_time(self):
        RELEASE.clear()
        try:
            started = time.monotonic()
            answers = by_module(runner.modules_check([module("stuck", Hangs()), module("fine", Answers(pause=0.2))]))
            took = time.monotonic() - started
            assert answers["stuck"].status == "down"
            assert answers["stuck"].message == "Timed out after 1 s."
            assert answers["fine"].status == "healthy"
            assert 0.9 < took < 1.8
            # Still hanging at the next round: answered at once, and no second thread is spent on it.
            started = time.monotonic()
            again = by_module(runner.modules_check([module("stuck", Hangs()), module("fine", Answers())]))
            assert time.monotonic() - started < 0.5
            assert again["stuck"].message == "Timed out after 1 s (still running since an earlier round)."
            assert again["fine"].status == "healthy"
        finally:
            RELEASE.set()

    def test_a_module_is_as_bad_as_its_worst_check(self):
        answers = by_module(
            runner.modules_check(
                [
                    module("one", Answers(), Answers(verdict="degraded")),
                    module("two", Answers(verdict="degraded"), Answers(verdict="down")),
                    module("three", Answers(verdict="crash")),
                    module("four", Answers(pause=0.05), slow_ms=10),
                ]
            )
        )
        assert (answers["one"].status, answers["one"].message) == ("degraded", "It is slow today.")
        assert (answers["two"].status, answers["two"].message) == ("down", "It is gone.")
        assert answers["three"].status == "down"
        assert "ZeroDivisionError: oops" in answers["three"].message
        assert answers["four"].status == "degraded"
        assert answers["four"].message.startswith("Answered in ")

    def test_overall_is_down_only_when_a_critical_module_is_down(self):
        healthy = dict.fromkeys(MODULES, "healthy")
        assert runner.overall(healthy, CRITICAL) == "healthy"
        assert runner.overall({**healthy, "search": "down"}, CRITICAL) == "degraded"
        assert runner.overall({**healthy, "cache": "degraded"}, CRITICAL) == "degraded"
        for name in ("web", "database", "broker", "workers"):
            assert runner.overall({**healthy, name: "down"}, CRITICAL) == "down"

    def test_the_thirteen_modules_are_the_metrics_closed_set(self):
        assert tuple(m.name for m in ALL) == MODULES
        assert all(m.degraded and m.down and m.todo for m in ALL)

    def test_docs_say_what_each_state_means_for_each_module(self):
        docs = (Path(__file__).resolve().parents[2] / "docs" / "monitoring.md").read_text()
        for m in ALL:
            assert f"## {m.name}" in docs
            assert m.degraded in docs and m.down in docs and m.todo in docs


@pytest.mark.django_db(transaction=True)
class ModuleCheckTests:
    """The real checks against the test run's database and embedded Redis."""

    def test_the_infrastructure_answers_healthy(self):
        answers = by_module(runner.modules_check([module_get(name) for name in ("database", "broker", "event_bus", "cache")]))
        assert {name: a.status for name, a in answers.items()} == dict.fromkeys(answers, "healthy"), answers

    def test_without_a_worker_the_workers_module_is_down_with_what_to_do(self, no_worker_seen):
        [answer] = runner.modules_check([module_get("workers")])
        assert answer.status == "down"
        assert "No worker is running" in answer.message and "celery -A chlops worker" in answer.message

    def test_the_index_is_down_before_the_first_build_and_degraded_when_a_file_cannot_be_read(self, tmp_path, settings):
        settings.INDEX_DIR = tmp_path / "index"
        [answer] = runner.modules_check([module_get("index")])
        assert (answer.status, answer.message) == ("down", "No index has been built yet, so dense search cannot answer: run reindex.")

        entries_with_vectors(unit_rows(20, seed=5), prefix="health")
        index_rebuild(RunCtx(), {})
        assert runner.modules_check([module_get("index")])[0].status == "healthy"
        name = sorted(index_manifest()["files"])[0]
        (served_dir() / name).rename(tmp_path / "away")
        [broken] = runner.modules_check([module_get("index")])
        assert broken.status == "degraded"
        assert f"The served index file {name} cannot be read" in broken.message
        (tmp_path / "away").rename(served_dir() / name)
        assert runner.modules_check([module_get("index")])[0].status == "healthy"

    def test_a_tampered_audit_row_is_found_by_the_next_rounds(self):
        rows = [record() for _ in range(5)]
        assert runner.modules_check([module_get("audit")])[0].status == "healthy"
        more = [record() for _ in range(3)]
        tamper("UPDATE audit_auditlog SET action = 'forged' WHERE id = %s", [more[1].pk])
        [answer] = runner.modules_check([module_get("audit")])
        assert answer.status == "down"
        assert f"broken at row #{more[1].pk}" in answer.message
        assert rows  # the rows before the bookmark were verified by the first round

    def test_the_row_verified_last_is_verified_again(self):
        rows = [record() for _ in range(3)]
        assert runner.modules_check([module_get("audit")])[0].status == "healthy"
        tamper("UPDATE audit_auditlog SET target = 'forged' WHERE id = %s", [rows[-1].pk])
        [answer] = runner.modules_check([module_get("audit")])
        assert (answer.status, f"#{rows[-1].pk}" in answer.message) == ("down", True)


@pytest.mark.django_db(transaction=True)
class HealthRoundTests:
    def test_a_round_stores_every_module_and_a_change_of_status_once(self):
        services.health_round()
        rows = {row.module: row for row in ModuleHealth.objects.all()}
        assert set(rows) == set(MODULES)
        assert rows["database"].status == "healthy" and rows["database"].response_time_ms > 0
        # Whether a worker is up depends on what else this test session started; the database is up.
        assert {check["name"] for check in rows["workers"].checks} == {"WorkersOnline", "WorkersAnswer", "QueueShort"}
        assert HealthEvent.objects.filter(module="database", status="healthy", previous="").count() == 1
        services.health_round()
        assert HealthEvent.objects.filter(module="database").count() == 1  # no change, no new event
        assert ModuleHealth.objects.get(module="database").since == rows["database"].since

    def test_a_status_that_changes_is_recorded_with_the_one_before(self):
        services.health_store([runner.ModuleAnswer("search", "healthy", "", 3.0, ())], minutes=None)
        changed = services.health_store([runner.ModuleAnswer("search", "down", "It broke.", 3.0, ())], minutes=None)
        assert changed == ["search"]
        event = HealthEvent.objects.filter(module="search").first()
        assert (event.previous, event.status, event.message) == ("healthy", "down", "It broke.")
        assert services.health_store([runner.ModuleAnswer("search", "down", "It broke.", 3.0, ())], minutes=None) == []


@pytest.mark.django_db(transaction=True)
class HealthReadTests:
    def stored(self, **statuses: str) -> None:
        now = timezone.now()
        answers = [runner.ModuleAnswer(name, statuses.get(name, "healthy"), "", 1.0, ()) for name in MODULES]
        services.health_store(answers, minutes=None)
        ModuleHealth.objects.update(checked_at=now)

    def test_the_overview_is_the_last_round_while_it_is_fresh(self):
        self.stored(search="down")
        overview = selectors.health_overview()
        assert (overview.status, overview.stale, overview.module("search").status) == ("degraded", False, "down")
        body = overview.as_json()
        assert set(body["modules"]) == set(MODULES)
        assert set(body["modules"]["search"]) >= {"status", "response_time_ms", "error_count", "trend", "anomalies"}

    def test_redis_down_puts_the_broker_event_bus_and_cache_down_at_once(self, settings, tmp_path):
        self.stored()
        settings.REDIS_URL = f"unix://{tmp_path}/gone.sock"
        overview = selectors.health_overview()
        assert overview.status == "down"
        assert {v.name for v in overview.modules if v.status == "down"} == {"broker", "event_bus", "cache"}
        assert all(overview.module(name).derived for name in ("broker", "event_bus", "cache"))

    def test_rounds_that_stopped_with_no_worker_running_say_the_workers_are_down(self, no_worker_seen):
        self.stored()
        ModuleHealth.objects.update(checked_at=timezone.now() - datetime.timedelta(minutes=5))
        overview = selectors.health_overview()
        assert overview.stale
        assert overview.module("workers").status == "down"
        assert "no worker is running" in overview.note
        assert overview.status == "down"

    def test_before_the_first_round_every_module_is_unknown(self):
        overview = selectors.health_overview()
        assert overview.module("audit").status == "unknown"
        assert overview.module("audit").message.startswith("Not checked yet")


@pytest.mark.django_db
class UptimeTests:
    START = datetime.datetime(2026, 3, 2, 12, 0, tzinfo=datetime.UTC)

    def at(self, minutes: float) -> datetime.datetime:
        return self.START + datetime.timedelta(minutes=minutes)

    def changed(self, module: str, status: str, minutes: float) -> None:
        HealthEvent.objects.create(module=module, status=status, at=self.at(minutes))

    def test_uptime_is_the_share_of_the_range_in_which_no_critical_module_was_down(self):
        for module in CRITICAL:
            self.changed(module, "healthy", -90)
        self.changed("database", "down", 10)
        self.changed("workers", "down", 30)  # overlaps the database's outage: counted once
        self.changed("database", "healthy", 40)
        self.changed("workers", "degraded", 50)  # degraded is up
        self.changed("index", "down", 0)  # not a critical module
        outages = selectors.outages(since=self.at(0), until=self.at(60))
        assert outages.spans == [(self.at(10), self.at(50))]
        assert outages.uptime(self.at(0), self.at(60)) == pytest.approx(100 / 3, abs=1e-3)
        assert outages.uptime(self.at(0), self.at(30)) == pytest.approx(100 / 3, abs=1e-3)
        assert outages.uptime(self.at(50), self.at(60)) == 100

    def test_a_module_down_before_the_range_is_down_from_its_start(self):
        self.changed("broker", "down", -5)
        self.changed("broker", "healthy", 15)
        outages = selectors.outages(since=self.at(0), until=self.at(60))
        assert outages.uptime(self.at(0), self.at(60)) == 75

    def test_before_the_first_round_there_is_no_uptime_and_after_it_only_its_time_counts(self):
        assert selectors.outages(since=self.at(0), until=self.at(60)).uptime(self.at(0), self.at(60)) is None
        self.changed("web", "healthy", 30)
        self.changed("web", "down", 45)
        outages = selectors.outages(since=self.at(0), until=self.at(60))
        assert outages.uptime(self.at(0), self.at(30)) is None
        assert outages.uptime(self.at(0), self.at(60)) == 50


@pytest.mark.django_db(transaction=True)
class HealthCommandTests:
    def test_an_unknown_module_exits_2_naming_the_thirteen(self):
        with pytest.raises(CommandError) as raised:
            call_command("health", "--module", "nope")
        assert raised.value.returncode == 2
        assert "There is no module 'nope'; the modules are: web, database, broker" in str(raised.value)

    def test_one_healthy_module_exits_0_with_json(self):
        out = io.StringIO()
        call_command("health", "--module", "database", "--json", stdout=out)
        body = json.loads(out.getvalue())
        assert body["status"] == "healthy"
        assert list(body["modules"]) == ["database"]

    def test_a_down_module_exits_2_and_every_module_is_printed(self, no_worker_seen):
        out = io.StringIO()
        with pytest.raises(SystemExit) as raised:
            call_command("health", stdout=out)
        assert raised.value.code == 2  # no worker seen: a critical module is down
        lines = out.getvalue().splitlines()
        assert [line.split()[0] for line in lines] == [*MODULES, "overall"]
        assert lines[-1].endswith("down")

    def test_a_degraded_module_exits_1(self):
        Job.objects.create(type="canary", state=JobState.FAILED, error="It fell over.", finished_at=timezone.now())
        out = io.StringIO()
        with pytest.raises(SystemExit) as raised:
            call_command("health", "--module", "jobs", stdout=out)
        assert raised.value.code == 1
        assert "failed" in out.getvalue() and "It fell over." in out.getvalue()

    def test_the_scheduler_is_down_when_beat_never_sent_a_task(self):
        redis_client().delete(beat.BEAT_KEY)  # whatever an earlier test's process may have noted
        out = io.StringIO()
        with pytest.raises(SystemExit) as raised:
            call_command("health", "--module", "scheduler", stdout=out)
        assert raised.value.code == 2, out.getvalue()
        assert "celery beat has sent no task since Redis started" in out.getvalue()
