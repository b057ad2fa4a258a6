"""Import of a large CSV: rows per second and peak memory of the import job, against csv + bulk_create.

    python bench/import_csv.py --rows 1000000

Both runs read the same generated file, each in a child process of its own on a fresh data dir
(fresh SQLite database, or the same DATABASE_URL emptied first), so that peak RSS is each one's own.

- import: the real `import` job, run in-process by `operations.runner.job_execute` on a queued Job
  (validation, content hashes, duplicate detection, upsert by (kind, external_id) in batches of
  CHLOPS_IMPORT_BATCH_SIZE inside transactions, checkpoints and progress), with the embedded Redis
  up so progress is pushed as it would be in production.
- baseline: `csv.DictReader` and `Entry.objects.bulk_create` in batches of 1000: tags split and
  metadata parsed so the same data lands, but no checks, hashes, duplicates or upserts.

Targets: import ≥ 0.8× the baseline's rows per second, and peak RSS ≤ 300 MB.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import machine, migrate, setup_django, start_redis, table  # noqa: E402

WORDS = "index vector search corpus shard replica embed query latency cache worker batch token".split()
TARGET_RATIO = 0.8
TARGET_RSS_MB = 300


def generate(path: Path, rows: int) -> None:
    """Write `rows` distinct entries of realistic size (a title, a few hundred characters of body)."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["kind", "external_id", "title", "body", "tags", "metadata"])
        kinds = ("experience", "manual", "document")
        for i in range(rows):
            words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(40)]
            writer.writerow(
                [
                    kinds[i % 3],
                    f"ext-{i:08d}",
                    f"Entry {i}: {words[0]} {words[1]} and {words[2]}",
                    " ".join(words) + f', "quoted", line {i}\nsecond line.',
                    f"{words[3]},{words[4]}",
                    json.dumps({"source": "bench", "n": i, "score": i / 7}),
                ]
            )


class PeakRss:
    """Sample this process's RSS every 20 ms in a thread; `peak` is the highest seen."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)


def run_import(path: Path) -> dict:
    from operations.models import Job, JobState
    from operations.runner import job_execute

    job = Job.objects.create(type="import", params={"path": path.name}, lock_key="import", source="system")
    with PeakRss() as rss:
        started = time.perf_counter()
        job_execute(job_id=job.pk)
        seconds = time.perf_counter() - started
    job.refresh_from_db()
    if job.state != JobState.SUCCEEDED:
        raise SystemExit(f"the import job ended {job.state}: {job.error}")
    return {"rows": job.result["created"], "rejected": job.result["rejected"], "seconds": seconds, "peak_rss": rss.peak}


def run_baseline(path: Path) -> dict:
    from indexes.models import Entry

    rows = 0
    with PeakRss() as rss:
        started = time.perf_counter()
        with open(path, encoding="utf-8", newline="") as handle:
            batch = []
            for row in csv.DictReader(handle):
                batch.append(
                    Entry(
                        kind=row["kind"],
                        external_id=row["external_id"],
                        title=row["title"],
                        body=row["body"],
                        tags=row["tags"].split(",") if row["tags"] else [],
                        metadata=json.loads(row["metadata"]) if row["metadata"] else {},
                        content_hash="",
                    )
                )
                if len(batch) == 1000:
                    Entry.objects.bulk_create(batch)
                    rows += len(batch)
                    batch = []
            Entry.objects.bulk_create(batch)
            rows += len(batch)
        seconds = time.perf_counter() - started
    return {"rows": rows, "rejected": 0, "seconds": seconds, "peak_rss": rss.peak}


def child(mode: str, path: Path) -> None:
    """Measure one mode on a fresh database and print its figures as JSON."""
    setup_django(CHLOPS_IMPORT_DIR=str(path.parent), CHLOPS_LOG_LEVEL="WARNING")
    redis = start_redis() if mode == "import" else None
    try:
        migrate()
        from indexes.models import Entry

        Entry.objects.all().delete()  # fresh on PostgreSQL too, where the database outlives the data dir
        figures = run_import(path) if mode == "import" else run_baseline(path)
        from django.db import connection

        figures["database"] = connection.vendor
        print(json.dumps(figures))
    finally:
        if redis:
            redis.terminate()
            redis.wait(10)


def measure(mode: str, path: Path) -> dict:
    env = {**os.environ, "CHLOPS_DATA_DIR": tempfile.mkdtemp(prefix=f"chlops-bench-{mode}-")}
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--csv", str(path)], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--csv", type=Path, help="use this CSV instead of generating one")
    parser.add_argument("--child", choices=["import", "baseline"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.csv.resolve())
        return
    workdir = Path(tempfile.mkdtemp(prefix="chlops-bench-csv-"))
    path = args.csv.resolve() if args.csv else workdir / "entries.csv"
    if not args.csv:
        started = time.perf_counter()
        generate(path, args.rows)
        print(
            f"generated {args.rows:,} rows, {path.stat().st_size / 2**20:.0f} MiB, in {time.perf_counter() - started:.1f} s"
        )
    baseline = measure("baseline", path)
    imported = measure("import", path)
    if not args.csv:
        path.unlink()
    ratio = (imported["rows"] / imported["seconds"]) / (baseline["rows"] / baseline["seconds"])
    mib = lambda n: f"{n / 2**20:.0f} MB"  # noqa: E731
    print(f"\nImport of a CSV — {machine()}; database {imported['database']}\n")
    print(
        table(
            ["run", "rows", "seconds", "rows/s", "peak RSS"],
            [
                [name, f"{r['rows']:,}", f"{r['seconds']:.1f}", f"{r['rows'] / r['seconds']:,.0f}", mib(r["peak_rss"])]
                for name, r in (("import job", imported), ("baseline: csv + bulk_create", baseline))
            ],
        )
    )
    met = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    print(f"\nspeed: {ratio:.2f}× the baseline (target ≥ {TARGET_RATIO}×): {met(ratio >= TARGET_RATIO)}")
    peak = imported["peak_rss"] / 2**20
    print(f"memory: import peak RSS {peak:.0f} MB (target ≤ {TARGET_RSS_MB} MB): {met(peak <= TARGET_RSS_MB)}")


if __name__ == "__main__":
    main()
