"""`health [--module NAME] [--json]`: check the modules now; exit 0 healthy, 1 degraded, 2 down (cron, load balancers)."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chlops.exceptions import ChlopsError
from monitoring.health import runner, selectors
from monitoring.health.modules import ALL, module_get
from operations.commands import dumps

EXIT_CODES = {runner.HEALTHY: 0, runner.DEGRADED: 1, runner.DOWN: 2}


class Command(BaseCommand):
    help = (
        "Run the health checks of every module (or one) now and print what each found. "
        "Exit codes: 0 healthy, 1 degraded, 2 down (or bad usage)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--module", help="Check only this module: " + ", ".join(module.name for module in ALL) + ".")
        parser.add_argument("--json", action="store_true", help="Print JSON, the shape of GET /api/health.")

    def handle(self, *args, module: str | None = None, json: bool = False, **options) -> None:
        try:
            modules = [module_get(module)] if module else list(ALL)
        except ChlopsError as exc:
            raise CommandError(exc.message, returncode=2) from None
        overview = selectors.health_from_answers(runner.modules_check(modules))
        status = overview.modules[0].status if module else overview.status
        if json:
            self.stdout.write(dumps({**overview.as_json(), "status": status}))
        else:
            for view in overview.modules:
                line = f"{view.name:<11} {view.icon} {view.status:<9} {view.response_time_ms or 0:>7.1f} ms"
                self.stdout.write(f"{line}  {view.message}".rstrip())
            if not module:
                self.stdout.write(f"overall     {overview.icon} {overview.status}")
        if code := EXIT_CODES[status]:
            sys.exit(code)
