"""Claims: how a job run takes a piece of work so that two runs at once never both do it.

A claim is a versioned write of a small record; of two runs writing the same key at the same
version, one is refused (the store's optimistic check) and skips that piece.
"""
from __future__ import annotations

from flows.service import Service
from storage import ConflictError


def claim(svc: Service, table: str, key: str, doc: dict, expected_version: int = 0) -> bool:
    """Take `key` for this run; False when another run has it."""
    try:
        svc.store.put(table, key, doc, expected_version=expected_version)
        return True
    except ConflictError:
        return False


def plain(doc: dict | None) -> dict:
    """A stored record without the store's own fields (_key, _version)."""
    return {k: v for k, v in (doc or {}).items() if not k.startswith("_")}
