"""Ingest of a generated git repository: files per second of the `ingest` job against clone-and-read baselines.

    python bench/ingest.py --files 10000

One generated repository (Markdown with headings and Python sources, ~1.5 kB each, one commit),
measured in this process on a fresh data dir and database:

- git clone: `git clone --depth 1 --single-branch` over file://, alone.
- baseline: that clone, then os.walk + read + the same chunking, without any database write.
- ingest (first): the real `ingest` job run by `operations.runner.job_execute` (clone under its
  caps, listing, NUL sniff, chunking, upsert in batches inside transactions, removal check,
  progress and checkpoints), with the embedded Redis up so progress is pushed as in production.
- ingest (again): the same job on the same commit, where every chunk is unchanged.

A warm-up clone runs first; the baselines and the re-ingest are run --repeat times and the fastest
counts (the machine is shared, so single runs are noisy). The first ingest runs once by nature.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import machine, migrate, setup_django, start_redis, table  # noqa: E402

WORDS = "index vector search corpus shard replica embed query latency cache worker batch token".split()
GIT_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def generate(repo: Path, files: int) -> None:
    """A repository of `files` text files in folders of 100, committed once."""
    for i in range(files):
        words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(30)]
        sentence = " ".join(words)
        folder = repo / f"part{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        if i % 10 < 7:
            text = (
                f"# Note {i}\n\n{sentence}.\n\n## Details\n\n"
                + f"{sentence} {i}.\n" * 6
                + "\n## See also\n\nnote {i}.\n"
            )
            (folder / f"note{i:05d}.md").write_text(text)
        else:
            body = "".join(f"    value_{k} = '{words[k]}'  # {sentence}\n" for k in range(8))
            (folder / f"module{i:05d}.py").write_text(f'"""Module {i}."""\n\n\ndef run_{i}():\n{body}    return 1\n')
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], env=GIT_ENV, check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], env=GIT_ENV, check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", "generated"], env=GIT_ENV, check=True)


def run_clone(repo: Path, into: Path) -> Path:
    target = into / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--single-branch", "--no-tags", "--", f"file://{repo}", str(target)],
        env=GIT_ENV,
        check=True,
    )
    return target


def run_git_clone(repo: Path, files: int) -> dict:
    into = Path(tempfile.mkdtemp(prefix="chlops-bench-clone-"))
    try:
        started = time.perf_counter()
        run_clone(repo, into)
        return {"files": files, "chunks": 0, "seconds": time.perf_counter() - started}
    finally:
        shutil.rmtree(into)


def run_baseline(repo: Path) -> dict:
    from indexes.ingest.chunking import chunks_of
    from indexes.ingest.files import is_markdown

    into = Path(tempfile.mkdtemp(prefix="chlops-bench-walk-"))
    try:
        started = time.perf_counter()
        clone = run_clone(repo, into)
        files = chunks = 0
        for folder, dirnames, filenames in os.walk(clone):
            if ".git" in dirnames:
                dirnames.remove(".git")
            for name in filenames:
                path = os.path.join(folder, name)
                text = Path(path).read_text()
                chunks += len(chunks_of(path=path, text=text, markdown=is_markdown(path)))
                files += 1
        return {"files": files, "chunks": chunks, "seconds": time.perf_counter() - started}
    finally:
        shutil.rmtree(into)


def run_ingest(repo: Path) -> dict:
    from operations.models import Job, JobState
    from operations.runner import job_execute

    job = Job.objects.create(type="ingest", params={"url": str(repo)}, lock_key="bench", source="system")
    started = time.perf_counter()
    job_execute(job_id=job.pk)
    seconds = time.perf_counter() - started
    job.refresh_from_db()
    if job.state != JobState.SUCCEEDED:
        raise SystemExit(f"the ingest job ended {job.state}: {job.error}")
    return {"files": job.result["files"], "chunks": job.result["chunks"], "seconds": seconds, "result": job.result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each baseline and of the re-ingest; the fastest counts"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="chlops-bench-ingest-"))
    repo = workdir / "repo"
    setup_django(CHLOPS_INGEST_ROOTS=str(workdir), CHLOPS_LOG_LEVEL="WARNING")
    redis = start_redis()
    try:
        migrate()
        started = time.perf_counter()
        generate(repo, args.files)
        print(f"generated {args.files:,} files in {time.perf_counter() - started:.1f} s")
        run_git_clone(repo, args.files)  # warm-up: the first reader of the repository pays for a cold page cache
        fastest = lambda runs: min(runs, key=lambda r: r["seconds"])  # noqa: E731
        clone = fastest([run_git_clone(repo, args.files) for _ in range(args.repeat)])
        baseline = fastest([run_baseline(repo) for _ in range(args.repeat)])
        first = run_ingest(repo)
        again = fastest([run_ingest(repo) for _ in range(args.repeat)])
        assert first["result"]["created"] == first["chunks"], first["result"]
        assert again["result"]["unchanged"] == again["chunks"], again["result"]
        from django.db import connection

        print(f"\nIngest of a generated repository — {machine()}; database {connection.vendor}\n")
        rows = [
            ("git clone --depth 1 alone", clone),
            ("baseline: clone + walk + read + chunk", baseline),
            ("ingest job, first (all created)", first),
            ("ingest job, again (all unchanged)", again),
        ]
        print(
            table(
                ["run", "files", "chunks", "seconds", "files/s"],
                [
                    [
                        name,
                        f"{r['files']:,}",
                        f"{r['chunks']:,}" if r["chunks"] else "—",
                        f"{r['seconds']:.2f}",
                        f"{r['files'] / r['seconds']:,.0f}",
                    ]
                    for name, r in rows
                ],
            )
        )
        rate = lambda r: r["files"] / r["seconds"]  # noqa: E731
        print(
            f"\nfirst ingest: {rate(first) / rate(baseline):.2f}× the baseline's files/s; "
            f"re-ingest: {rate(again) / rate(baseline):.2f}×"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if redis:
            redis.terminate()
            redis.wait(10)


if __name__ == "__main__":
    main()
