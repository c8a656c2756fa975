"""Persistence of the workflow platform: TinyDB files with a write-ahead journal (see storage.store)."""
from storage._chain import event_hash
from storage._layout import partition_of
from storage.errors import ConflictError, NotFound, StorageError
from storage.migrations import SCHEMA_VERSION
from storage.store import Store

__all__ = ["Store", "StorageError", "ConflictError", "NotFound", "SCHEMA_VERSION", "event_hash", "partition_of"]
