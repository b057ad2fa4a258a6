"""Shallow-clone a repository into a directory with git, under a time and a size cap, never asking for credentials."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from indexes.ingest.errors import IngestFailed
from indexes.ingest.repository import Repository

POLL = 0.1  # seconds between looks at git, the clock and cancellation
SIZE_EVERY = 0.5  # seconds between two measurements of the clone's size
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Clone:
    path: Path
    commit: str
    ref: str


def repository_clone(*, ctx: Any, repository: Repository, ref: str | None, into: Path) -> Clone:
    """Clone the repository's ref (default branch when None) into `into`; raise IngestFailed with git's reason."""
    target = into / "repo"
    with tempfile.TemporaryDirectory(dir=into, prefix="home-") as home:
        env = _git_env(home, local=repository.local)
        if ref and FULL_SHA.match(ref):
            target.mkdir()
            _git(ctx, ["init", "-q", str(target)], env=env, repository=repository, ref=ref, watch=target)
            _git(
                ctx,
                ["-C", str(target), "remote", "add", "origin", "--", repository.clone_url],
                env=env,
                repository=repository,
                ref=ref,
                watch=target,
            )
            _git(
                ctx,
                ["-C", str(target), "fetch", "-q", "--depth", "1", "origin", ref],
                env=env,
                repository=repository,
                ref=ref,
                watch=target,
            )
            _git(
                ctx,
                ["-C", str(target), "checkout", "-q", "FETCH_HEAD"],
                env=env,
                repository=repository,
                ref=ref,
                watch=target,
            )
        else:
            args = ["clone", "-q", "--depth", "1", "--single-branch", "--no-tags"]
            if ref:
                args += ["--branch", ref]
            _git(
                ctx,
                [*args, "--", repository.clone_url, str(target)],
                env=env,
                repository=repository,
                ref=ref,
                watch=target,
            )
        commit = _output(["-C", str(target), "rev-parse", "HEAD"], env=env)
        branch = ref or _output(["-C", str(target), "rev-parse", "--abbrev-ref", "HEAD"], env=env)
    return Clone(path=target, commit=commit, ref=branch)


def _git_env(home: str, *, local: bool) -> dict[str, str]:
    # A clean environment: no user or system git config (credential helpers, url rewrites, hooks),
    # no prompt for a password, only the transports ingest allows.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "XDG_CONFIG_HOME": home,
        "LANG": "C",
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o ConnectTimeout=30",
        "GIT_ALLOW_PROTOCOL": "file" if local else "http:https:ssh:git",
        "GIT_LFS_SKIP_SMUDGE": "1",
    }
    return env


def _git(
    ctx: Any, args: list[str], *, env: dict[str, str], repository: Repository, ref: str | None, watch: Path
) -> None:
    cap_bytes = settings.CHLOPS_INGEST_MAX_BYTES
    timeout = settings.CHLOPS_INGEST_TIMEOUT
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            ["git", "-c", "credential.helper=", "-c", "core.askPass=", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,  # so that killing it takes its helpers (remote-https, ssh, index-pack) too
        )
        try:
            started = last_size = time.monotonic()
            while process.poll() is None:
                try:
                    process.wait(POLL)
                except subprocess.TimeoutExpired:
                    pass
                ctx.checkpoint()
                now = time.monotonic()
                if now - started > timeout:
                    raise IngestFailed(
                        f"Cloning {repository.name} took longer than {timeout} seconds (CHLOPS_INGEST_TIMEOUT) "
                        "and was stopped; try again later, or ask an administrator to raise the limit."
                    )
                if now - last_size >= SIZE_EVERY:
                    last_size = now
                    size = tree_size(watch)
                    ctx.progress(size, None, phase="cloning")
                    _size_check(size, cap_bytes, repository)
            _size_check(tree_size(watch), cap_bytes, repository)
        finally:
            _kill(process)
        if process.returncode != 0:
            errors.seek(0)
            raise IngestFailed(clone_error(errors.read().decode("utf-8", "replace"), repository=repository, ref=ref))


def _size_check(size: int, cap: int, repository: Repository) -> None:
    if size > cap:
        raise IngestFailed(
            f"The clone of {repository.name} grew past {cap:,} bytes (CHLOPS_INGEST_MAX_BYTES) and was stopped; "
            "ingest a smaller repository, or ask an administrator to raise the limit."
        )


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def _output(args: list[str], *, env: dict[str, str]) -> str:
    done = subprocess.run(["git", *args], env=env, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise IngestFailed(f"git could not read the clone: {done.stderr.strip() or done.returncode}.")
    return done.stdout.strip()


def tree_size(path: Path) -> int:
    """Bytes of the regular files under path, without following symlinks; 0 while it does not exist."""
    total = 0
    stack = [str(path)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:
                    continue  # git renames its temporary packs as it goes
    return total


REASONS = (
    (
        (
            "repository not found",
            "does not appear to be a git repository",
            "not found",
            "no such file or directory",
            "does not exist",
            "repository not exported",
        ),
        "The repository {name} does not exist, or it is private and needs credentials, which ingest does not use; "
        "check the URL.",
    ),
    (
        ("could not resolve host", "name or service not known", "temporary failure in name resolution"),
        "The host of {name} could not be found; check the URL.",
    ),
    (
        (
            "connection refused",
            "failed to connect",
            "couldn't connect",
            "connection timed out",
            "network is unreachable",
            "no route to host",
            "unable to connect",
            "could not read from remote repository",
            "operation timed out",
        ),
        "The host of {name} cannot be reached ({detail}); check the URL and that the server is up, then try again.",
    ),
    (
        (
            "terminal prompts disabled",
            "authentication failed",
            "could not read username",
            "permission denied",
            "host key verification failed",
        ),
        "The repository {name} asks for credentials; ingest reads public repositories, or private ones over ssh "
        "with the worker's deploy key.",
    ),
    (
        ("not our ref", "couldn't find remote ref", "unadvertised object"),
        "The repository {name} has no ref {ref!r}, or its server does not allow fetching that commit directly; "
        "give a branch or tag name.",
    ),
)


def clone_error(stderr: str, *, repository: Repository, ref: str | None) -> str:
    """Turn git's stderr into a sentence a person can act on."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = stderr.lower()
    if ref and re.search(r"remote branch .* not found", text):
        return f"The repository {repository.name} has no branch or tag named {ref!r}; check the ref."
    detail = next((line for line in reversed(lines) if line.lower().startswith("fatal:")), lines[-1] if lines else "")
    detail = detail.removeprefix("fatal: ").rstrip(".")
    for needles, message in REASONS:
        if "{ref!r}" in message and not ref:
            continue
        if any(needle in text for needle in needles):
            return message.format(name=repository.name, ref=ref, detail=detail)
    return f"git could not clone {repository.name}: {detail or 'it exited without saying why'}."
