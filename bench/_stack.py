"""A throwaway stack for benchmarks: its own data dir, Redis, database and worker processes."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

BASE_DIR = Path(__file__).resolve().parent.parent


def setup_django(**env: str) -> Path:
    """Point settings at a fresh data dir (unless CHLOPS_DATA_DIR is set), then set Django up."""
    data_dir = Path(os.environ.get("CHLOPS_DATA_DIR") or tempfile.mkdtemp(prefix="chlops-bench-"))
    os.environ["CHLOPS_DATA_DIR"] = str(data_dir)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chlops.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    return data_dir


def start_redis():
    from django.conf import settings

    from chlops.redis_server import redis_server_start

    if settings.REDIS_EMBEDDED:
        return redis_server_start(socket=settings.REDIS_SOCKET, data_dir=settings.DATA_DIR)
    return None


def database_ensure(url: str) -> None:
    """Create a benchmark's PostgreSQL database when the server does not have it yet."""
    import dj_database_url
    import psycopg

    db = dj_database_url.parse(url)
    server = psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"] or None,
        dbname="postgres", autocommit=True,
    )  # fmt: skip
    with server:
        if not server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
            server.execute(f'CREATE DATABASE "{db["NAME"]}"')
            print(f"created database {db['NAME']}")


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def start_worker(name: str = "bench", concurrency: int = 1, log: Path | None = None) -> subprocess.Popen:
    log = log or Path(os.environ["CHLOPS_DATA_DIR"]) / f"{name}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "chlops", "worker", "-n", f"{name}@%h", "-Q", "jobs,embed,control",
         "-c", str(concurrency), "--without-gossip", "--without-mingle", "-l", "WARNING"],
        cwd=BASE_DIR, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    from chlops.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(destination=[f"{name}@{platform.node()}"], timeout=0.5):
            return process
    raise RuntimeError(f"worker did not start; see {log}")


def machine() -> str:
    mem = psutil.virtual_memory().total / 2**30
    return f"{platform.processor() or platform.machine()}, {psutil.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
