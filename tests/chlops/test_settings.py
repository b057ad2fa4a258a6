from __future__ import annotations

import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from ipaddress import ip_network

import pytest
from django.core.exceptions import ImproperlyConfigured

from chlops.checks import check_test_gates
from chlops.settings import env_networks, read_or_create_secret
from tests.conftest import BASE_DIR


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True)


class DeployCheckTests:
    def production_env(self, tmp_path, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update({"CHLOPS_ENV": "production", "CHLOPS_DATA_DIR": str(tmp_path), "CHLOPS_SECRET_KEY": "x" * 30 + "-Zq9!" * 10})
        return {**env, **extra}

    def test_production_mode_passes_check_deploy(self, tmp_path):
        # As the README says to deploy: PostgreSQL and a Redis of its own (check connects to neither).
        env = self.production_env(tmp_path, DATABASE_URL="postgres://chlops@127.0.0.1:1/chlops", REDIS_URL="redis://127.0.0.1:1/0")
        result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
        assert result.returncode == 0, result.stderr
        assert "no issues" in result.stdout

    def test_check_reports_sqlite_and_the_embedded_redis_in_production(self, tmp_path):
        result = manage("check", env=self.production_env(tmp_path))
        assert result.returncode == 0, result.stderr  # warnings: they stop no command
        assert "(chlops.W101) CHLOPS_ENV is production but Redis is the embedded one" in result.stderr
        assert "(chlops.W102) CHLOPS_ENV is production but the database is SQLite" in result.stderr
        assert "chlops.W103" not in result.stderr and "chlops.W104" not in result.stderr


class SecretTests:
    def test_secret_is_created_once_with_mode_0600_even_under_a_race(self, tmp_path):
        path = tmp_path / "secret-key"
        with ThreadPoolExecutor(8) as pool:
            values = set(pool.map(lambda i: read_or_create_secret(path, lambda: f"secret-{i}"), range(8)))
        assert len(values) == 1
        assert path.read_text() == values.pop()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


class TrustedProxiesTests:
    def test_addresses_and_networks_are_read(self, monkeypatch):
        monkeypatch.setenv("CHLOPS_TRUSTED_PROXIES", "10.0.0.5, 10.1.0.0/16,")
        assert env_networks("CHLOPS_TRUSTED_PROXIES") == [ip_network("10.0.0.5"), ip_network("10.1.0.0/16")]

    def test_a_typo_fails_at_start_with_a_sentence(self, monkeypatch):
        monkeypatch.setenv("CHLOPS_TRUSTED_PROXIES", "10.0.0.5,10.0.0.300")
        with pytest.raises(ImproperlyConfigured, match=r"'10\.0\.0\.300' is not an IP address or CIDR network"):
            env_networks("CHLOPS_TRUSTED_PROXIES")


class TestGatesCheckTests:
    def test_deploy_check_refuses_test_gates(self, settings):
        settings.CHLOPS_TEST_GATES = False
        assert check_test_gates() == []
        settings.CHLOPS_TEST_GATES = True
        assert [message.id for message in check_test_gates()] == ["chlops.E001"]
