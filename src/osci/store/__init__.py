"""The store: SQL tables and queries (SQLite or PostgreSQL), migrations, and blob storage for logs."""

from osci.store.blobs import BlobStore
from osci.store.errors import NotFound, StoreError
from osci.store.store import Store

__all__ = ["BlobStore", "NotFound", "Store", "StoreError"]
