"""Persistence of the workflow platform: TinyDB files with a write-ahead journal (see storage.store), or
PostgreSQL past one machine (storage.pg_store); `open_store` chooses by `WORKFLOW_DATABASE_URL`."""
from storage._chain import event_hash
from storage._layout import partition_of
from storage.backend import DATABASE_URL_ENV, database_url, open_store
from storage.errors import ConflictError, NotFound, StorageError
from storage.migrations import SCHEMA_VERSION
from storage.store import Store

__all__ = ["Store", "StorageError", "ConflictError", "NotFound", "SCHEMA_VERSION", "event_hash", "partition_of",
           "open_store", "database_url", "DATABASE_URL_ENV"]
