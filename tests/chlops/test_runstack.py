from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import urllib.request

import psutil
import pytest

from tests.conftest import BASE_DIR, free_port, wait_for


@pytest.fixture
def stack(tmp_path):
    """`manage.py runstack` on a data dir of its own, with the embedded defaults (no DATABASE_URL, no REDIS_URL)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CHLOPS_ADMIN_PASSWORD"}}
    env.update({"CHLOPS_DATA_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1"})
    log = tmp_path / "runstack.log"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "--bind", f"127.0.0.1:{port}", "--concurrency", "1"],
        cwd=BASE_DIR, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
    )
    yield process, port, tmp_path / "var", log
    if process.poll() is None:
        process.kill()


class RunstackTests:
    def test_starts_every_process_serves_and_ctrl_c_leaves_none_behind(self, stack):
        process, port, data_dir, log = stack
        wait_for(lambda: b"ready." in log.read_bytes(), timeout=90, interval=0.2, message="the worker to be ready")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=5) as response:
            assert response.status == 200
        children = psutil.Process(process.pid).children(recursive=True)
        output = log.read_text()
        for prefix in ("redis |", "   web |", "worker |", "  beat |"):
            assert prefix in output
        assert f"CHL Ops is running at http://127.0.0.1:{port}/admin/" in output

        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
        assert "Stopped." in log.read_text()
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]

    def test_first_run_creates_admin_with_a_password_file_only_the_owner_reads(self, stack):
        process, port, data_dir, log = stack
        wait_for(lambda: b"is running at" in log.read_bytes(), timeout=90, interval=0.2, message="the stack to start")
        password_file = data_dir / "admin-password"
        password = password_file.read_text().strip()
        assert f"Password (shown once, also in {password_file}): {password}" in log.read_text()
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        assert stat.S_IMODE((data_dir / "secret-key").stat().st_mode) == 0o600
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0

    def test_bad_bind_is_refused_with_a_sentence(self, tmp_path):
        env = {**os.environ, "CHLOPS_DATA_DIR": str(tmp_path)}
        result = subprocess.run(
            [sys.executable, "manage.py", "runstack", "--bind", "localhost"], cwd=BASE_DIR, env=env, capture_output=True, text=True
        )
        assert result.returncode == 2
        assert "--bind must look like 127.0.0.1:8000, not 'localhost'." in result.stderr
