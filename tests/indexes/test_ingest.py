from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from django.core.management import call_command

from indexes.ingest import IngestFailed, repository_ingest
from indexes.ingest.chunking import chunks_of
from indexes.ingest.writing import external_id_for
from indexes.models import EmbeddingState, Entry
from operations import services
from operations.models import Job, JobState
from operations.runner import JobCancelled
from tests.conftest import free_port, only_worker, wait_for
from tests.gates import advance, hold, wait_until_held
from tests.indexes.factories import FakeContext

GIT_ENV = {
    "PATH": os.environ["PATH"],
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], env=GIT_ENV, check=True, capture_output=True, text=True
    ).stdout


def make_repo(path: Path, files: dict[str, str | bytes], *, branch: str = "main") -> Path:
    """A git repository at path holding files (paths relative to it), committed."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", branch)
    write_files(path, files)
    commit(path)
    return path


def write_files(repo: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)


def commit(repo: Path, message: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


README = "# Guide\n\nIntro.\n\n## Install\n\nRun pip install.\n\n```sh\n# a comment, not a heading\n```\n\n## Use\n\nCall it.\n"


@pytest.fixture
def roots(tmp_path, settings) -> Path:
    """An allowed root for local repositories and an empty directory where clones go."""
    root = tmp_path / "repos"
    root.mkdir()
    clones = tmp_path / "clones"
    clones.mkdir()
    settings.CHLOPS_INGEST_ROOTS = [str(root)]
    settings.CHLOPS_INGEST_TMP_DIR = str(clones)
    return root


def clones_dir(settings) -> list[str]:
    return os.listdir(settings.CHLOPS_INGEST_TMP_DIR)


def ingest(url: str, ref: str | None = None, ctx: FakeContext | None = None) -> dict:
    params = {"url": url, **({"ref": ref} if ref else {})}
    return repository_ingest(ctx or FakeContext(), params)


def documents() -> dict[str, Entry]:
    return {entry.external_id: entry for entry in Entry.objects.filter(kind="document")}


@pytest.mark.django_db
class IngestTests:
    def test_markdown_and_source_become_document_entries_keyed_by_repo_path_and_chunk(self, roots, settings):
        repo = make_repo(roots / "docs", {"README.md": README, "src/app.py": "def main():\n    return 1\n"})
        result = ingest(str(repo))
        name = f"file://{repo}"
        commit_sha = git(repo, "rev-parse", "HEAD").strip()
        assert result == {
            "repository": name,
            "ref": "main",
            "commit": commit_sha,
            "files": 2,
            "chunks": 4,
            "created": 4,
            "updated": 0,
            "unchanged": 0,
            "removed": 0,
            "skipped": {"binary": 0, "symlink": 0, "too_large": 0, "other": 0},
        }
        docs = documents()
        assert sorted(docs) == [
            f"{name}:README.md#0",
            f"{name}:README.md#1",
            f"{name}:README.md#2",
            f"{name}:src/app.py#0",
        ]
        install = docs[f"{name}:README.md#1"]
        assert install.title == "README.md — Install"
        assert install.body.startswith("## Install") and "# a comment, not a heading" in install.body
        assert install.metadata == {
            "repository": name,
            "path": "README.md",
            "ref": "main",
            "commit": commit_sha,
            "chunk": 1,
        }
        assert install.origin == name
        assert install.embedding_state == EmbeddingState.PENDING
        assert clones_dir(settings) == []

    def test_reingest_removes_vanished_files_updates_edited_ones_and_keeps_the_rest(self, roots):
        repo = make_repo(roots / "r", {"a.md": "# A\n\nalpha\n", "b.txt": "bravo\n", "c.py": "charlie = 1\n"})
        ingest(str(repo))
        Entry.objects.filter(kind="document").update(embedding_state=EmbeddingState.READY)
        (repo / "a.md").unlink()
        (repo / "b.txt").write_text("bravo, edited\n")
        commit(repo)
        result = ingest(str(repo))
        assert (result["created"], result["updated"], result["unchanged"], result["removed"]) == (0, 1, 1, 1)
        name = f"file://{repo}"
        docs = documents()
        assert sorted(docs) == [f"{name}:b.txt#0", f"{name}:c.py#0"]
        assert docs[f"{name}:b.txt#0"].body == "bravo, edited"
        assert docs[f"{name}:b.txt#0"].embedding_state == EmbeddingState.PENDING
        # Same text at a newer commit: the metadata follows, the embedding stays ready.
        charlie = docs[f"{name}:c.py#0"]
        assert charlie.embedding_state == EmbeddingState.READY
        assert charlie.metadata["commit"] == git(repo, "rev-parse", "HEAD").strip()

    def test_chunks_that_vanish_from_a_shorter_file_are_removed(self, roots):
        repo = make_repo(roots / "r", {"doc.md": "# One\n\n1\n\n# Two\n\n2\n\n# Three\n\n3\n"})
        ingest(str(repo))
        (repo / "doc.md").write_text("# One\n\n1\n")
        commit(repo)
        result = ingest(str(repo))
        assert result["removed"] == 2
        assert list(documents()) == [f"file://{repo}:doc.md#0"]

    def test_ingest_leaves_other_repositories_and_hand_written_entries_alone(self, roots):
        one = make_repo(roots / "one", {"a.txt": "a\n"})
        two = make_repo(roots / "two", {"a.txt": "a\n"})
        Entry.objects.create(kind="manual", external_id="m1", title="Manual", content_hash="x")
        ingest(str(one))
        ingest(str(two))
        (two / "a.txt").unlink()
        commit(two)
        assert ingest(str(two))["removed"] == 1
        assert sorted(Entry.objects.values_list("external_id", flat=True)) == [f"file://{one}:a.txt#0", "m1"]

    def test_binaries_symlinks_large_and_unknown_files_are_skipped(self, roots, settings):
        settings.CHLOPS_INGEST_MAX_FILE_BYTES = 1000
        repo = roots / "r"
        repo.mkdir()
        write_files(
            repo, {"ok.md": "fine\n", "nul.txt": b"text\x00more", "big.txt": "x" * 1001, "logo.png": b"\x89PNG"}
        )
        (repo / "link.md").symlink_to("ok.md")
        (repo / "linked-dir").symlink_to("/etc")
        subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], env=GIT_ENV, check=True)
        commit(repo)
        result = ingest(str(repo))
        assert result["skipped"] == {"binary": 1, "symlink": 2, "too_large": 1, "other": 1}
        assert (result["files"], result["chunks"]) == (1, 1)
        assert list(documents()) == [f"file://{repo}:ok.md#0"]

    def test_ref_picks_a_branch(self, roots):
        repo = make_repo(roots / "r", {"a.txt": "on main\n"})
        git(repo, "checkout", "-q", "-b", "release")
        (repo / "a.txt").write_text("on release\n")
        commit(repo)
        git(repo, "checkout", "-q", "main")
        result = ingest(str(repo), ref="release")
        assert result["ref"] == "release"
        assert Entry.objects.get().body == "on release"

    def test_ref_can_be_a_full_commit_id(self, roots):
        repo = make_repo(roots / "r", {"a.txt": "first\n"})
        sha = git(repo, "rev-parse", "HEAD").strip()
        result = ingest(str(repo), ref=sha)
        assert (result["commit"], result["ref"]) == (sha, sha)
        assert Entry.objects.get().body == "first"

    def test_unknown_ref_fails_with_a_sentence_and_writes_nothing(self, roots, settings):
        repo = make_repo(roots / "r", {"a.txt": "a\n"})
        with pytest.raises(IngestFailed) as raised:
            ingest(str(repo), ref="nope")
        assert raised.value.message == f"The repository file://{repo} has no branch or tag named 'nope'; check the ref."
        assert not Entry.objects.exists()
        assert clones_dir(settings) == []

    def test_too_many_files_fails_before_anything_is_written(self, roots, settings):
        settings.CHLOPS_INGEST_MAX_FILES = 3
        repo = make_repo(roots / "r", {f"f{i}.txt": f"{i}\n" for i in range(4)})
        with pytest.raises(IngestFailed) as raised:
            ingest(str(repo))
        assert raised.value.message == (
            f"file://{repo} has 4 text files, more than the 3 that one ingest may read (CHLOPS_INGEST_MAX_FILES); "
            "nothing was written. Ask an administrator to raise the limit."
        )
        assert not Entry.objects.exists()
        assert clones_dir(settings) == []

    def test_clone_over_the_size_cap_is_stopped(self, roots, settings):
        settings.CHLOPS_INGEST_MAX_BYTES = 50_000
        repo = make_repo(roots / "r", {"noise.txt": os.urandom(300_000).hex()})
        with pytest.raises(IngestFailed) as raised:
            ingest(str(repo))
        assert raised.value.message == (
            f"The clone of file://{repo} grew past 50,000 bytes (CHLOPS_INGEST_MAX_BYTES) and was stopped; "
            "ingest a smaller repository, or ask an administrator to raise the limit."
        )
        assert not Entry.objects.exists()
        assert clones_dir(settings) == []

    def test_clone_over_the_time_cap_is_stopped(self, roots, settings, silent_server):
        settings.CHLOPS_INGEST_TIMEOUT = 1
        with pytest.raises(IngestFailed) as raised:
            ingest(f"{silent_server}/team/repo.git")
        assert raised.value.message == (
            f"Cloning {silent_server}/team/repo took longer than 1 seconds (CHLOPS_INGEST_TIMEOUT) and was stopped; "
            "try again later, or ask an administrator to raise the limit."
        )
        assert clones_dir(settings) == []

    def test_repository_served_over_git_is_ingested(self, roots, settings, git_daemon):
        url, base = git_daemon
        make_repo(base / "team" / "docs", {"README.md": README, "notes.txt": "plain\n"})
        result = ingest(f"{url}/team/docs")
        assert result["repository"] == f"{url}/team/docs"
        assert (result["files"], result["created"]) == (2, 4)
        assert set(Entry.objects.values_list("origin", flat=True)) == {f"{url}/team/docs"}
        assert clones_dir(settings) == []

    def test_repository_missing_on_a_git_server_fails_with_a_sentence(self, roots, git_daemon):
        url, _ = git_daemon
        with pytest.raises(IngestFailed) as raised:
            ingest(f"{url}/team/missing.git")
        assert raised.value.message == (
            f"The repository {url}/team/missing does not exist, or it is private and needs credentials, "
            "which ingest does not use; check the URL."
        )
        assert not Entry.objects.exists()

    def test_cancel_while_cloning_kills_git_and_removes_the_clone(self, roots, settings, silent_server):
        class CancelAtOnce(FakeContext):
            def checkpoint(self) -> None:
                raise JobCancelled

        with pytest.raises(JobCancelled):
            ingest(f"{silent_server}/team/repo.git", ctx=CancelAtOnce())
        assert not [p for p in psutil.Process().children(recursive=True) if p.name().startswith("git")]
        assert clones_dir(settings) == []

    def test_unreachable_host_fails_with_a_sentence(self, roots, settings):
        port = free_port()  # nothing listens there
        with pytest.raises(IngestFailed) as raised:
            ingest(f"git://127.0.0.1:{port}/team/repo.git")
        assert raised.value.message.startswith(f"The host of git://127.0.0.1:{port}/team/repo cannot be reached (")
        assert raised.value.message.endswith("check the URL and that the server is up, then try again.")
        assert clones_dir(settings) == []

    def test_repository_that_does_not_exist_fails_with_a_sentence(self, roots, settings, http_base):
        with pytest.raises(IngestFailed) as raised:
            ingest(f"{http_base}/team/missing.git")
        assert raised.value.message == (
            f"The repository {http_base}/team/missing does not exist, or it is private and needs credentials, "
            "which ingest does not use; check the URL."
        )

    def test_damaged_repository_fails_with_what_git_said(self, roots, settings):
        repo = make_repo(roots / "r", {"a.txt": "a\n"})
        shutil.rmtree(repo / ".git" / "objects")
        (repo / ".git" / "objects").mkdir()
        with pytest.raises(IngestFailed) as raised:
            ingest(str(repo))
        assert raised.value.message.startswith(f"git could not clone file://{repo}: ")
        assert "not our ref" in raised.value.message
        assert clones_dir(settings) == []

    def test_cancel_while_writing_stops_and_removes_the_clone(self, roots, settings):
        repo = make_repo(roots / "r", {f"f{i:04}.txt": f"file {i}\n" for i in range(1200)})

        class CancelOnceWriting(FakeContext):
            def checkpoint(self) -> None:
                if Entry.objects.exists():
                    raise JobCancelled

        with pytest.raises(JobCancelled):
            ingest(str(repo), ctx=CancelOnceWriting())
        assert clones_dir(settings) == []
        assert Entry.objects.count() == 500  # the first batch, whole


@pytest.mark.django_db
class IngestCardTests:
    def test_card_lists_ingested_repositories_with_a_button_to_ingest_again(self, roots, operator, auditor, client):
        client.force_login(operator)
        assert (
            "No repository has been ingested yet"
            in client.get("/admin/ops/partials/card/ingest-card/").content.decode()
        )
        repo = make_repo(roots / "docs", {"README.md": README})
        ingest(str(repo))
        html = client.get("/admin/ops/partials/card/ingest-card/").content.decode()
        assert f"file://{repo}" in html and '<td data-label="Documents">3</td>' in html
        assert git(repo, "rev-parse", "HEAD").strip()[:10] in html
        assert f'name="ingest-url" value="{repo}"' in html
        response = client.post("/admin/ops/run/ingest/", {"ingest-url": str(repo)}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert Job.objects.get().lock_key == f"ingest:file://{repo}"
        client.force_login(auditor)
        html = client.get("/admin/ops/partials/card/ingest-card/").content.decode()
        assert f"file://{repo}" in html and "Ingest again" not in html


@pytest.mark.django_db
class IngestParamsTests:
    def params_error(self, operator, params: dict) -> dict:
        with pytest.raises(services.JobParamsInvalid) as raised:
            services.job_start(type="ingest", params=params, actor=operator, source="cli")
        assert not Job.objects.exists()
        return raised.value.fields

    def test_scheme_that_is_not_allowed_is_refused(self, operator, roots):
        assert self.params_error(operator, {"url": "ftp://127.0.0.1/repo.git"}) == {
            "url": [
                "The scheme 'ftp' is not allowed; use https, http, ssh or git, or a local path inside CHLOPS_INGEST_ROOTS."
            ]
        }
        assert self.params_error(operator, {"url": "ext::sh -c touch% /tmp/pwned"})["url"][0].startswith(
            "The scheme 'ext' is not allowed"
        )

    def test_local_path_outside_the_roots_is_refused(self, operator, roots, tmp_path):
        outside = make_repo(tmp_path / "elsewhere", {"a.txt": "a\n"})
        assert self.params_error(operator, {"url": str(outside)}) == {
            "url": [f"{outside} is outside the directories that may be ingested ({roots})."]
        }
        assert self.params_error(operator, {"url": f"file://{roots}/../elsewhere"}) == {
            "url": [f"{outside} is outside the directories that may be ingested ({roots})."]
        }

    def test_local_paths_are_refused_when_no_root_is_allowed(self, operator, settings, tmp_path):
        settings.CHLOPS_INGEST_ROOTS = []
        assert self.params_error(operator, {"url": str(tmp_path)}) == {
            "url": [
                "Local paths cannot be ingested here: no directory is allowed (CHLOPS_INGEST_ROOTS is empty). "
                "Give a git URL, or ask an administrator to set CHLOPS_INGEST_ROOTS."
            ]
        }

    def test_directory_that_is_not_a_git_repository_is_refused(self, operator, roots):
        (roots / "plain").mkdir()
        assert self.params_error(operator, {"url": str(roots / "plain")}) == {
            "url": [
                f"{roots / 'plain'} is not a git repository (it has no .git); give the top directory of a repository."
            ]
        }
        assert self.params_error(operator, {"url": str(roots / "missing")}) == {
            "url": [f"There is no directory at {roots / 'missing'}."]
        }

    def test_repository_whose_git_data_lies_outside_the_roots_is_refused(self, operator, roots, tmp_path):
        outside = make_repo(tmp_path / "elsewhere", {"a.txt": "a\n"})
        (roots / "front").mkdir()
        (roots / "front" / ".git").write_text(f"gitdir: {outside / '.git'}\n")
        (roots / "linked").mkdir()
        (roots / "linked" / ".git").symlink_to(outside / ".git")
        for name in ("front", "linked"):
            assert self.params_error(operator, {"url": str(roots / name)}) == {
                "url": [
                    f"The git data of {roots / name} lies in {outside / '.git'}, "
                    "outside the directories that may be ingested."
                ]
            }

    def test_port_out_of_range_is_refused(self, operator, roots):
        assert self.params_error(operator, {"url": "http://127.0.0.1:99999/team/repo.git"}) == {
            "url": ["The port in 'http://127.0.0.1:99999/team/repo.git' is not a number from 1 to 65535."]
        }

    def test_password_in_the_url_is_refused(self, operator, roots):
        [message] = self.params_error(operator, {"url": "https://me:secret@127.0.0.1/team/repo.git"})["url"]
        assert message.startswith("Remove the password from the URL")

    def test_ref_that_could_be_an_option_is_refused(self, operator, roots):
        repo = make_repo(roots / "r", {"a.txt": "a\n"})
        [message] = self.params_error(operator, {"url": str(repo), "ref": "--upload-pack=touch"})["ref"]
        assert message.startswith("The ref must be a branch, tag or commit name")

    def test_api_answers_400_with_the_sentence(self, operator, roots, client):
        client.force_login(operator)
        response = client.post(
            "/api/jobs", {"type": "ingest", "params": {"url": "ftp://127.0.0.1/x"}}, content_type="application/json"
        )
        assert response.status_code == 400
        assert "The scheme 'ftp' is not allowed" in response.json()["error"]

    def test_dashboard_form_shows_the_sentence_inline(self, operator, roots, client):
        client.force_login(operator)
        response = client.post("/admin/ops/run/ingest/", {"ingest-url": str(roots / "plain")}, HTTP_HX_REQUEST="true")
        assert response.status_code == 400
        assert f"There is no directory at {roots / 'plain'}." in response.content.decode()
        assert not Job.objects.exists()

    def test_urls_of_allowed_schemes_name_the_repository_without_credentials(self, operator, roots):
        from indexes.ingest.repository import repository_check

        assert repository_check(url="https://Bot@Example.org/Team/Repo.git/").name == "https://example.org/Team/Repo"
        assert repository_check(url="git@example.org:team/repo.git").name == "ssh://example.org/team/repo"
        assert repository_check(url="git@example.org:team/repo.git").clone_url == "ssh://git@example.org/team/repo.git"
        assert repository_check(url="git://127.0.0.1:9418/x").lock_key == "ingest:git://127.0.0.1:9418/x"


class ChunkingTests:
    def test_long_text_is_cut_at_line_boundaries_near_the_size(self):
        text = "".join(f"line {i:03}\n" for i in range(300))  # 9 characters a line
        chunks = chunks_of(path="notes.txt", text=text, markdown=False, size=100)
        assert all(len(chunk.body) <= 100 for chunk in chunks)
        assert "\n".join(chunk.body for chunk in chunks) == text.rstrip("\n")
        assert chunks[0].title == f"notes.txt (1/{len(chunks)})"
        assert chunks == chunks_of(path="notes.txt", text=text, markdown=False, size=100)

    def test_blank_sections_are_dropped(self):
        assert [c.title for c in chunks_of(path="a.md", text="# Empty\n\n# Full\n\ntext\n", markdown=True)] == [
            "a.md — Empty",
            "a.md — Full",
        ]

    def test_external_id_stays_within_the_column_and_unique(self):
        long_path = "d/" * 200 + "file.md"
        one = external_id_for(repository="https://example.org/x", path=long_path, chunk=1)
        two = external_id_for(repository="https://example.org/x", path=long_path, chunk=2)
        assert len(one) == len(two) == 255 and one != two


@pytest.fixture
def git_daemon(tmp_path) -> Iterator[tuple[str, Path]]:
    """`git daemon` serving the repositories under a directory over git:// on 127.0.0.1."""
    base = tmp_path / "served"
    base.mkdir()
    port = free_port()
    process = subprocess.Popen(
        [
            "git",
            "daemon",
            "--export-all",
            f"--base-path={base}",
            "--listen=127.0.0.1",
            f"--port={port}",
            "--reuseaddr",
            str(base),
        ],
        env=GIT_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # `git daemon` runs git-daemon as a child: stop the whole group
    )

    def listening() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, timeout=10, message="git daemon to listen")
        yield f"git://127.0.0.1:{port}", base
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An http server on 127.0.0.1 that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


# --- On a real worker -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def ingest_dirs(tmp_path_factory) -> tuple[Path, Path]:
    return tmp_path_factory.mktemp("ingest-roots"), tmp_path_factory.mktemp("ingest-clones")


@pytest.fixture(scope="session")
def ingest_worker(spawn_worker, ingest_dirs):
    root, clones = ingest_dirs
    return spawn_worker(
        "ingest",
        queues="jobs",
        concurrency=1,
        env={"CHLOPS_INGEST_ROOTS": str(root), "CHLOPS_INGEST_TMP_DIR": str(clones)},
    )


@pytest.fixture
def worker_roots(ingest_worker, ingest_dirs, settings) -> Iterator[Path]:
    root, clones = ingest_dirs
    settings.CHLOPS_INGEST_ROOTS = [str(root)]
    settings.CHLOPS_INGEST_TMP_DIR = str(clones)
    with only_worker("ingest"):
        yield root


def finished(job: Job) -> Job | None:
    job.refresh_from_db()
    return job if job.is_finished else None


@pytest.mark.django_db(transaction=True)
class IngestJobTests:
    def test_jobs_run_ingest_waits_for_the_worker(self, worker_roots, settings):
        repo = make_repo(worker_roots / "cli", {"README.md": README})
        out = io.StringIO()
        call_command(
            "jobs", "run", "ingest", "--param", f"url={repo}", "--param", "ref=main", "--wait", "--json", stdout=out
        )
        job = json.loads(out.getvalue())
        assert job["state"] == JobState.SUCCEEDED
        assert job["lock_key"] == f"ingest:file://{repo}"
        assert job["result"]["chunks"] == 3 and job["result"]["created"] == 3
        assert job["phase"] == "removing"
        assert Entry.objects.filter(origin=f"file://{repo}").count() == 3
        assert clones_dir(settings) == []

    def test_failed_clone_fails_the_job_with_the_sentence(self, worker_roots, operator):
        repo = make_repo(worker_roots / "badref", {"a.txt": "a\n"})
        job = services.job_start(type="ingest", params={"url": str(repo), "ref": "nope"}, actor=operator, source="cli")
        wait_for(lambda: finished(job), timeout=60, message="the ingest to fail")
        assert job.state == JobState.FAILED
        assert job.error == f"The repository file://{repo} has no branch or tag named 'nope'; check the ref."

    def test_cancel_mid_ingest_stops_and_removes_the_clone(self, worker_roots, operator, settings):
        repo = make_repo(
            worker_roots / "big", {f"d{i // 500}/f{i:05}.md": f"# File {i}\n\ntext {i}\n" for i in range(6000)}
        )
        written = Entry.objects.filter(origin=f"file://{repo}")
        with hold("ingest", phase="writing"):
            job = services.job_start(type="ingest", params={"url": str(repo)}, actor=operator, source="cli")
            wait_until_held(job.pk, timeout=120)
            advance(job.pk, until=written.exists)  # a checkpoint at a time, until a batch is written
            wait_until_held(job.pk)
            services.job_cancel(job=job, actor=operator, source="cli")
        wait_for(lambda: finished(job), timeout=15, message="the cancel to land")
        assert job.state == JobState.CANCELLED
        assert clones_dir(settings) == []
        assert Entry.objects.filter(origin=f"file://{repo}").count() < 6000

    def test_a_second_ingest_of_the_same_repository_is_refused_while_one_runs(self, worker_roots, operator):
        repo = make_repo(worker_roots / "twice", {f"f{i}.txt": f"{i}\n" for i in range(2000)})
        with hold("ingest"):  # the first cannot end before the second is asked for
            first = services.job_start(type="ingest", params={"url": str(repo)}, actor=operator, source="cli")
            with pytest.raises(services.LockHeld):
                services.job_start(type="ingest", params={"url": f"file://{repo}/"}, actor=operator, source="cli")
        wait_for(lambda: finished(first), timeout=120, message="the first ingest")
