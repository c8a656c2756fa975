"""The storage tests seal with a key of their own (never the user's ~/.config/county-safety/seal.key);
child processes inherit it through the environment."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def seal_key_file(tmp_path_factory, monkeypatch):
    path = tmp_path_factory.getbasetemp() / "seal-key" / "seal.key"
    monkeypatch.setenv("WORKFLOW_SEAL_KEY_FILE", str(path))
    return path
