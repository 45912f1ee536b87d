"""Snapshot persistence: the snapshot record, its codec, and stores (memory, SQLite, PostgreSQL).

``open_store(url)`` picks a store from a URL (:mod:`streamrt.store.registry`); use the result as
``async with open_store(url) as store: ...``. Other packages add schemes through the ``streamrt.stores``
entry-point group (a :class:`StoreType` per scheme; see ``docs/architecture.md``, "Ports").

| URL | store |
|---|---|
| ``None`` | SQLite at ``./streamrt.db`` |
| ``memory:`` or ``memory://`` | :class:`MemoryStore`, private to this process |
| ``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``sqlite://`` (in memory) | :class:`SqlStore` on aiosqlite |
| a plain path such as ``./streamrt.db`` or ``~/state/s.db`` | :class:`SqlStore` on aiosqlite |
| ``postgresql://user:pw@host:5432/db`` (also ``postgres://``, ``postgresql+asyncpg://``) | :class:`SqlStore` on asyncpg |
| ``redis://host:6379/0`` (also ``rediss://``; ``?prefix=`` for the keys) | :class:`~streamrt.store.redis.RedisStore` |
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streamrt.store.base import SnapshotStore
from streamrt.store.codec import decode_snapshot, decode_value, encode_snapshot, encode_value
from streamrt.store.memory import MemoryStore
from streamrt.store.registry import DEFAULT_STORE_PATH, STORES, StoreType, open_store
from streamrt.store.snapshot import FORMAT_VERSION, DeadLetter, Lease, Snapshot, StreamSummary

if TYPE_CHECKING:
    from streamrt.store.sql import SqlStore

__all__ = [
    "DEFAULT_STORE_PATH",
    "FORMAT_VERSION",
    "STORES",
    "DeadLetter",
    "Lease",
    "MemoryStore",
    "Snapshot",
    "SnapshotStore",
    "SqlStore",
    "StoreType",
    "StreamSummary",
    "decode_snapshot",
    "decode_value",
    "encode_snapshot",
    "encode_value",
    "open_store",
]


def __getattr__(name: str) -> Any:
    """Import the SQL store (and SQLAlchemy, a few hundred milliseconds) only when it is used."""
    if name == "SqlStore":
        from streamrt.store.sql import SqlStore

        return SqlStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
