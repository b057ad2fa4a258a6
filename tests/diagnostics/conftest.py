"""Fixtures of the diagnostics' tests: a credentials dir and an index dir of their own, no cache between tests."""

from __future__ import annotations

import json
import os

import pytest

from diagnostics import selectors


@pytest.fixture(autouse=True)
def fresh(settings, tmp_path):
    settings.CREDENTIALS_DIR = tmp_path / "credentials"
    settings.INDEX_DIR = tmp_path / "index"
    selectors.diagnostics_forget()
    yield
    selectors.diagnostics_forget()


def index_built(settings, *, built_at: str, embedder: str) -> None:
    """A served index set on disk with only its manifest: all the diagnostics read of it."""
    directory = settings.INDEX_DIR / "v000001"
    directory.mkdir(parents=True)
    (directory / "manifest.json").write_text(json.dumps({"built_at": built_at, "embedder": embedder, "version": 1}))
    os.symlink("v000001", settings.INDEX_DIR / "current")
