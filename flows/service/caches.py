"""Where a process keeps what it could compute again but would rather not: the templates' checks
(`template_checks`) and the parsed YAML files (`yaml_cache`).

``$WORKFLOW_CACHE_DIR``, else ``$XDG_CACHE_HOME/county-safety``, else ``~/.cache/county-safety``. Nothing
there is needed: removed, unreadable or unwritable, the work is simply done again.
"""
from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR_ENV = "WORKFLOW_CACHE_DIR"


def cache_dir() -> Path:
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "county-safety"
