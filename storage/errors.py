"""Errors of the storage layer. `str(error)` is a message a user can read (Chinese)."""
from __future__ import annotations


class StorageError(Exception):
    """Base class: the data directory cannot do what was asked."""


class ConflictError(StorageError):
    """Optimistic concurrency: the stored version is not the one the caller read."""

    def __init__(self, case_id: str, expected: int, actual: int, *, what: str = "案件"):
        self.case_id = case_id
        self.expected = expected
        self.actual = actual
        if expected == 0 and actual > 0:
            message = f"{what} {case_id} 已存在（版本 {actual}），不能重复创建"
        else:
            message = f"{what} {case_id} 已被他人修改（版本 {actual} ≠ {expected}），请刷新后重试"
        super().__init__(message)


class NotFound(StorageError):
    """The case or record does not exist."""
