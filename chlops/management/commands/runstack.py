"""Bring the whole stack up on this machine: Redis (embedded), daphne, a worker and beat."""

from __future__ import annotations

import signal
import sys
import threading
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chlops import stack


class Command(BaseCommand):
    help = "Migrate, make sure an admin exists, and run Redis, daphne, a Celery worker and beat until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000", help="HOST:PORT for daphne (default 127.0.0.1:8000).")
        parser.add_argument("--concurrency", type=int, default=2, help="Worker processes (default 2).")

    def handle(self, *args, bind: str, concurrency: int, **options) -> None:
        host, port = stack.parse_bind(bind)
        if concurrency < 1:
            raise CommandError("--concurrency must be 1 or more.", returncode=2)
        processes = stack.Supervisor(out=self.stdout)
        stopping = threading.Event()

        def stop(signum, frame) -> None:
            stopping.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            if settings.REDIS_EMBEDDED:
                processes.start_redis()
            call_command("migrate", interactive=False, verbosity=0)
            self.stdout.write(stack.admin_ensure())
            processes.start("web", stack.daphne_command(host, port))
            processes.start("worker", stack.worker_command(concurrency))
            processes.start("beat", stack.beat_command())
            self.stdout.write(self.style.SUCCESS(f"CHL Ops is running at http://{host}:{port}/admin/ — Ctrl-C stops it."))
            while not stopping.is_set():
                if dead := processes.first_dead():
                    self.stderr.write(f"{dead} exited unexpectedly; stopping the stack.")
                    processes.stop_all()
                    sys.exit(1)
                time.sleep(0.2)
        finally:
            processes.stop_all()
        self.stdout.write("Stopped.")
