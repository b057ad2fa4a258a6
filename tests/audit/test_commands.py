from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.utils import timezone

from audit.models import AuditLog
from audit.triggers import triggers_drop, triggers_missing
from tests.audit.factories import record, record_days_ago, tamper

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("audit", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


class AuditVerifyCommandTests:
    def test_says_intact_with_the_row_count(self):
        for _ in range(3):
            record()
        assert run("verify") == "intact: 3 rows\n"

    def test_json(self):
        record()
        assert json.loads(run("verify", "--json")) == {"intact": True, "rows": 1, "first_bad": None, "reason": ""}

    def test_a_tampered_row_exits_1_naming_its_id(self):
        rows = [record() for _ in range(4)]
        tamper("UPDATE audit_auditlog SET details = %s WHERE id = %s", ['{"forged": true}', rows[2].pk])
        with pytest.raises(CommandError, match=rf"broken at row #{rows[2].pk}: its content does not match") as caught:
            run("verify")
        assert caught.value.returncode == 1

    def test_a_tampered_row_in_json_names_first_bad(self):
        rows = [record() for _ in range(2)]
        tamper("UPDATE audit_auditlog SET action = 'x' WHERE id = %s", [rows[1].pk])
        out = io.StringIO()
        with pytest.raises(CommandError):
            call_command("audit", "verify", "--json", stdout=out)
        assert json.loads(out.getvalue())["first_bad"] == rows[1].pk

    def test_warns_when_the_triggers_are_missing(self):
        triggers_drop(connection)
        err = io.StringIO()
        call_command("audit", "verify", stdout=io.StringIO(), stderr=err)
        assert "append-only triggers are missing" in err.getvalue() and "migrate" in err.getvalue()


class AuditExportCommandTests:
    def test_csv_to_stdout_has_a_header_and_every_row(self):
        first = record(target="with, comma", details={"quote": 'say "hi"'})
        record()
        rows = list(csv.DictReader(io.StringIO(run("export"))))
        assert [int(row["id"]) for row in rows] == [1, 2]
        assert rows[0]["target"] == "with, comma"
        assert json.loads(rows[0]["details"]) == {"quote": 'say "hi"'}
        assert rows[0]["hash"] == first.hash

    def test_csv_neutralises_formulas_and_jsonl_keeps_them_exact(self):
        record(target="@SUM(1+1)*cmd|' /C calc'!A0")
        (row,) = csv.DictReader(io.StringIO(run("export")))
        assert row["target"] == "'@SUM(1+1)*cmd\\|' /C calc'!A0"
        first = run("export", "--format", "jsonl").splitlines()[0]  # the first export's own row follows
        assert json.loads(first)["target"] == "@SUM(1+1)*cmd|' /C calc'!A0"

    def test_jsonl_between_since_and_until(self):
        record_days_ago(10)
        middle = record_days_ago(5)
        record_days_ago(1)
        since = (timezone.now() - timedelta(days=7)).date().isoformat()
        until = (timezone.now() - timedelta(days=3)).isoformat()
        lines = run("export", "--format", "jsonl", "--since", since, "--until", until).splitlines()
        assert [json.loads(line)["id"] for line in lines] == [middle.pk]

    def test_writes_a_file_and_records_the_export(self, tmp_path: Path):
        record()
        target = tmp_path / "audit.csv"
        run("export", "-o", str(target))
        assert len(list(csv.DictReader(target.open()))) == 1
        exported = AuditLog.objects.get(action="audit.export")
        assert exported.source == "cli" and exported.target == str(target) and exported.details["rows"] == 1
        assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind

    @pytest.mark.parametrize("option", ["--since", "--until"])
    def test_a_bad_date_exits_2_with_a_sentence(self, option: str):
        with pytest.raises(CommandError, match=rf"{option} '2024-13-01' is not a date: use YYYY-MM-DD") as caught:
            run("export", option, "2024-13-01")
        assert caught.value.returncode == 2

    def test_a_missing_directory_exits_2(self, tmp_path: Path):
        with pytest.raises(CommandError, match="does not exist") as caught:
            run("export", "-o", str(tmp_path / "nowhere" / "audit.csv"))
        assert caught.value.returncode == 2

    def test_since_after_until_exits_2(self):
        with pytest.raises(CommandError, match="--since must be before --until") as caught:
            run("export", "--since", "2024-02-01", "--until", "2024-01-01")
        assert caught.value.returncode == 2


class AuditPruneCommandTests:
    def test_prunes_and_verify_still_passes(self):
        record_days_ago(400)
        kept = record_days_ago(10)
        before = (timezone.now() - timedelta(days=365)).date().isoformat()
        out = run("prune", "--before", before)
        anchor = AuditLog.objects.get(action="audit.prune")
        assert (
            out
            == f"pruned 1 rows created before {before}T00:00:00+00:00; anchor #{anchor.pk} vouches for row #{kept.pk}, where the chain now starts.\n"
        )
        assert run("verify") == "intact: 2 rows\n"

    def test_json_and_dry_run(self):
        record_days_ago(3)
        result = json.loads(
            run("prune", "--before", (timezone.now() - timedelta(days=1)).isoformat(), "--dry-run", "--json")
        )
        assert result["deleted"] == 1 and result["anchor"] is None and result["dry_run"] is True
        assert AuditLog.objects.count() == 1

    def test_a_future_date_exits_2(self):
        with pytest.raises(CommandError, match="is in the future") as caught:
            run("prune", "--before", "2999-01-01")
        assert caught.value.returncode == 2

    def test_a_bad_date_exits_2(self):
        with pytest.raises(CommandError, match="--before 'yesterday' is not a date") as caught:
            run("prune", "--before", "yesterday")
        assert caught.value.returncode == 2

    def test_before_is_required(self):
        with pytest.raises(CommandError, match="--before"):
            run("prune")


@pytest.mark.django_db(transaction=True)
class AuditCommandProcessTests:
    """The exit codes a cron job sees, from a real process on the test database."""

    def manage(self, stack_env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", "audit", *args],
            cwd=settings.BASE_DIR,
            env=stack_env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def test_verify_and_usage_errors_exit_with_their_codes(self, stack_env):
        record()
        record()
        verified = self.manage(stack_env, "verify")
        assert (verified.returncode, verified.stdout) == (0, "intact: 2 rows\n")
        bad_format = self.manage(stack_env, "export", "--format", "xml")
        assert bad_format.returncode == 2 and "invalid choice: 'xml'" in bad_format.stderr
        bad_date = self.manage(stack_env, "prune", "--before", "soon")
        assert bad_date.returncode == 2 and "--before 'soon' is not a date" in bad_date.stderr

    def test_flushing_between_transactional_tests_keeps_the_triggers(self):
        record()
        call_command("flush", interactive=False, verbosity=0)
        assert AuditLog.objects.count() == 0
        assert triggers_missing(connection) == []

    def test_a_flush_that_deadlocks_with_a_worker_tries_again(self, monkeypatch):
        """PostgreSQL aborts a TRUNCATE caught in a deadlock with a worker finishing a test's job."""
        from django.core.management.commands import flush

        real, calls = flush.Command.handle, []

        def deadlocking_once(command, **options):
            calls.append(1)
            if len(calls) == 1:
                try:
                    raise OperationalError("deadlock detected")
                except OperationalError as exc:
                    raise CommandError("Database test couldn't be flushed.") from exc
            return real(command, **options)

        monkeypatch.setattr(flush.Command, "handle", deadlocking_once)
        record()
        call_command("flush", interactive=False, verbosity=0)
        assert len(calls) == 2 and AuditLog.objects.count() == 0
        assert triggers_missing(connection) == []

    def test_a_flush_that_fails_for_another_reason_says_so_at_once(self, monkeypatch):
        from django.core.management.commands import flush

        def failing(command, **options):
            raise CommandError("Database test couldn't be flushed.")

        monkeypatch.setattr(flush.Command, "handle", failing)
        with pytest.raises(CommandError, match="couldn't be flushed"):
            call_command("flush", interactive=False, verbosity=0)

    def test_flush_is_refused_in_production(self, settings):
        settings.PRODUCTION = True
        record()
        with pytest.raises(CommandError, match="flush would erase the append-only audit log"):
            call_command("flush", interactive=False, verbosity=0)
        assert AuditLog.objects.count() == 1
