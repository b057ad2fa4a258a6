"""`jobs run|cancel|retry|list|show`: the job engine from cron and scripts."""

from __future__ import annotations

import sys

from django.core.management.base import CommandError, CommandParser

from operations import selectors, services
from operations.api.serializers import job_json
from operations.commands import ActionCommand, describe_progress, dumps
from operations.models import Job, JobState


def parse_params(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--param takes KEY=VALUE, not {pair!r}.", returncode=2)
        params[key] = value
    return params


class Command(ActionCommand):
    help = "Run, cancel, retry, list and show jobs. Exit codes: 0 succeeded/queued, 1 failed, 2 bad usage, 3 cancelled, 4 lock conflict."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        run = sub.add_parser("run", help="Start a job.")
        run.add_argument("type")
        run.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
        run.add_argument("--wait", action="store_true", help="Wait for the job to finish; exit with its outcome.")
        run.add_argument("--json", action="store_true")
        run.add_argument("--source", choices=["cli", "cron"], help="Default: cli on a terminal, cron otherwise.")
        for name in ("cancel", "retry", "show"):
            p = sub.add_parser(name, help=f"{name.capitalize()} a job.")
            p.add_argument("id", type=int)
            p.add_argument("--json", action="store_true")
        listing = sub.add_parser("list", help="List jobs, newest first.")
        listing.add_argument("--state", choices=JobState.values)
        listing.add_argument("--type")
        listing.add_argument("--limit", type=int, default=50)
        listing.add_argument("--json", action="store_true")

    def do_run(self, *, type: str, param: list[str], wait: bool, json: bool, source: str | None, **_) -> None:
        source = source or ("cli" if sys.stdin.isatty() else "cron")
        job = services.job_start(type=type, params=parse_params(param), source=source)
        if not wait:
            self.job_print(job, json)
            return
        if not json:
            self.stdout.write(f"Started {job}; waiting for it to finish.")
        job = self.job_wait(job, quiet=json)
        self.job_print(job, json)
        self.job_exit(job)

    def do_cancel(self, *, id: int, json: bool, **_) -> None:
        self.job_print(services.job_cancel(job=self._get(id), source="cli"), json)

    def do_retry(self, *, id: int, json: bool, **_) -> None:
        self.job_print(services.job_retry(job=self._get(id), source="cli"), json)

    def do_show(self, *, id: int, json: bool, **_) -> None:
        job = self._get(id)
        if json:
            self.stdout.write(dumps(job_json(job, history=True)))
            return
        self.job_print(job, False)
        for row in job.history.all():
            self.stdout.write(f"  {row.at:%Y-%m-%d %H:%M:%S} {row.kind:<10} {row.state or row.phase} {row.message}")

    def do_list(self, *, state: str | None, type: str | None, limit: int, json: bool, **_) -> None:
        jobs = list(selectors.job_list(state=state, type=type)[: max(1, limit)])
        if json:
            self.stdout.write(dumps([job_json(j) for j in jobs]))
            return
        for job in jobs:
            self.stdout.write(
                f"{job.pk:>6}  {job.type:<10} {job.state:<10} {describe_progress(job):<16} {job.created_at:%Y-%m-%d %H:%M:%S}"
            )

    def _get(self, job_id: int) -> Job:
        try:
            return selectors.job_get(job_id=job_id)
        except Job.DoesNotExist:
            raise CommandError(f"There is no job #{job_id}; `jobs list` shows the recent ones.", returncode=2) from None
