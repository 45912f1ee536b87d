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

from typing import TYPE_CHECKING

from streamrt.lazy import lazy_exports

if TYPE_CHECKING:
    from streamrt.store.base import SnapshotStore
    from streamrt.store.codec import decode_snapshot, decode_value, encode_snapshot, encode_value
    from streamrt.store.memory import MemoryStore
    from streamrt.store.registry import DEFAULT_STORE_PATH, STORES, StoreType, open_store
    from streamrt.store.snapshot import FORMAT_VERSION, DeadLetter, Lease, Snapshot, StreamSummary
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

_HOME: dict[str, str] = {
    "SnapshotStore": "streamrt.store.base",
    "decode_snapshot": "streamrt.store.codec",
    "decode_value": "streamrt.store.codec",
    "encode_snapshot": "streamrt.store.codec",
    "encode_value": "streamrt.store.codec",
    "MemoryStore": "streamrt.store.memory",
    "DEFAULT_STORE_PATH": "streamrt.store.registry",
    "STORES": "streamrt.store.registry",
    "StoreType": "streamrt.store.registry",
    "open_store": "streamrt.store.registry",
    "FORMAT_VERSION": "streamrt.store.snapshot",
    "DeadLetter": "streamrt.store.snapshot",
    "Lease": "streamrt.store.snapshot",
    "Snapshot": "streamrt.store.snapshot",
    "StreamSummary": "streamrt.store.snapshot",
    "SqlStore": "streamrt.store.sql",
}
"""Each public name and the module that defines it, imported on first use (PEP 562): the runtime needs the snapshot
record on every start, the memory store and the registry of store types only with a store (issue #17), the SQL
store (SQLAlchemy, a few hundred milliseconds) only when it is used (:func:`streamrt.lazy.lazy_exports`)."""


__getattr__, __dir__ = lazy_exports(globals(), _HOME)
