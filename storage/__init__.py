"""Persistence of the workflow platform: TinyDB files with a write-ahead journal (see storage.store)."""
from storage.errors import ConflictError, NotFound, StorageError
from storage.migrations import SCHEMA_VERSION
from storage.store import Store, event_hash, partition_of

__all__ = ["Store", "StorageError", "ConflictError", "NotFound", "SCHEMA_VERSION", "event_hash", "partition_of"]
