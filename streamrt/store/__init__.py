"""Snapshot persistence: the snapshot record, its codec, and stores (memory, SQLite, PostgreSQL).

``open_store(url)`` picks a store from a URL; use the result as ``async with open_store(url) as store: ...``.

| URL | store |
|---|---|
| ``None`` | SQLite at ``./streamrt.db`` |
| ``memory:`` or ``memory://`` | :class:`MemoryStore`, private to this process |
| ``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``sqlite://`` (in memory) | :class:`SqlStore` on aiosqlite |
| a plain path such as ``./streamrt.db`` or ``~/state/s.db`` | :class:`SqlStore` on aiosqlite |
| ``postgresql://user:pw@host:5432/db`` (also ``postgres://``, ``postgresql+asyncpg://``) | :class:`SqlStore` on asyncpg |
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Final

from streamrt.errors import StoreUnavailableError
from streamrt.store.base import SnapshotStore
from streamrt.store.codec import decode_snapshot, decode_value, encode_snapshot, encode_value
from streamrt.store.memory import MemoryStore
from streamrt.store.snapshot import FORMAT_VERSION, DeadLetter, Lease, Snapshot, StreamSummary

if TYPE_CHECKING:
    from streamrt.store.sql import SqlStore

__all__ = [
    "DEFAULT_STORE_PATH",
    "FORMAT_VERSION",
    "DeadLetter",
    "Lease",
    "MemoryStore",
    "Snapshot",
    "SnapshotStore",
    "SqlStore",
    "StreamSummary",
    "decode_snapshot",
    "decode_value",
    "encode_snapshot",
    "encode_value",
    "open_store",
]

DEFAULT_STORE_PATH: Final = "./streamrt.db"

# A scheme is at least two characters so that a Windows drive letter ("C:\\...") still reads as a path.
_SCHEME: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
_SQL_SCHEMES: Final = ("sqlite", "postgresql", "postgres")


def open_store(url: str | None = None) -> SnapshotStore:
    """The store a URL names, not yet opened; a URL that cannot name a store raises StoreUnavailableError.

    Problems only the database can report (an unwritable path, a refused connection) surface when the store is
    opened, also as StoreUnavailableError.
    """
    if url is None:
        url = DEFAULT_STORE_PATH
    url = url.strip()
    if not url:
        raise StoreUnavailableError(
            "empty store URL (use memory:, a file path, sqlite:///PATH or postgresql://...)"
        )
    if url in ("memory:", "memory://"):
        return MemoryStore(url)
    match = _SCHEME.match(url)
    if match is None:
        from sqlalchemy.engine import URL

        # URL.create, not string formatting: a path may hold "?" or "#".
        return _sql_store(URL.create("sqlite+aiosqlite", database=os.path.expanduser(url)))
    scheme = match.group(1).lower()
    if scheme.split("+", 1)[0] in _SQL_SCHEMES:
        return _sql_store(url)
    raise StoreUnavailableError(
        f"unsupported store URL scheme {scheme!r}: use memory:, a file path, sqlite:///PATH or postgresql://..."
    )


def _sql_store(url: Any) -> SqlStore:
    from streamrt.store.sql import SqlStore

    return SqlStore(url)


def __getattr__(name: str) -> Any:
    """Import the SQL store (and SQLAlchemy, a few hundred milliseconds) only when it is used."""
    if name == "SqlStore":
        from streamrt.store.sql import SqlStore

        return SqlStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
