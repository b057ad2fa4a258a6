"""What the commands that start jobs share: subcommand dispatch, exit codes, waiting and printing."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError

from chlops.exceptions import ChlopsError
from operations import selectors, services
from operations.api.serializers import job_json
from operations.models import Job, JobState

EXIT_CODES = {JobState.SUCCEEDED: 0, JobState.FAILED: 1, JobState.CANCELLED: 3}


def dumps(data: object) -> str:
    return json.dumps(data, indent=2, default=str)


def describe_progress(job: Job) -> str:
    if job.total:
        return f"{job.done}/{job.total} ({job.percent}%)"
    return str(job.done) if job.done else ""


class ActionCommand(BaseCommand):
    """Run `do_<action>`; a held lock exits 4, any other ChlopsError with its own exit code."""

    def handle(self, *args, action: str, **options) -> None:
        try:
            getattr(self, f"do_{action}")(**options)
        except services.LockHeld as exc:
            self.stderr.write(exc.message)
            sys.exit(4)
        except ChlopsError as exc:
            raise CommandError(exc.message, returncode=exc.exit_code) from None

    def job_wait(self, job: Job, *, quiet: bool, describe: Callable[[Job], str] = describe_progress) -> Job:
        """Poll the job until it finishes, printing each change of state, phase or progress."""
        last = None
        while True:
            job = selectors.job_get(job_id=job.pk)
            line = f"{job.state} {job.phase} {describe(job)}".strip()
            if line != last and not quiet:
                self.stdout.write(f"  {line}")
                last = line
            if job.is_finished:
                return job
            time.sleep(0.25)

    def job_print(self, job: Job, as_json: bool) -> None:
        if as_json:
            self.stdout.write(dumps(job_json(job)))
            return
        text = f"{job}: {job.state}"
        if job.error:
            text += f" — {job.error}"
        if job.result:
            text += f"\n{dumps(job.result)}"
        self.stdout.write(text)

    def job_exit(self, job: Job) -> None:
        """Exit with the finished job's outcome: 0 succeeded, 1 failed, 3 cancelled."""
        if code := EXIT_CODES.get(job.state, 1):
            sys.exit(code)
