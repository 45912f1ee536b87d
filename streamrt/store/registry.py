"""Which store a URL names: store types by scheme, built in or from the ``streamrt.stores`` entry points.

A URL with no scheme (see :func:`streamrt.plugins.scheme_of`) is a SQLite file path. Otherwise the whole scheme is
looked up, then the part before a ``+`` (``postgresql+asyncpg`` is a ``postgresql`` store); the lookup order and
the rule that plugins cannot replace built-in schemes are :class:`streamrt.plugins.Registry`'s.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final

import msgspec

from streamrt.errors import StoreUnavailableError
from streamrt.plugins import Registry, scheme_of
from streamrt.store.base import SnapshotStore
from streamrt.store.memory import MemoryStore

__all__ = ["DEFAULT_STORE_PATH", "STORES", "StoreType", "open_store"]

DEFAULT_STORE_PATH: Final = "./streamrt.db"


class StoreType(msgspec.Struct, frozen=True):
    """How to make the stores of one URL scheme."""

    open: Callable[[str], SnapshotStore]
    """Make the store a URL names, not yet opened (``async with`` opens it); a bad URL raises StoreUnavailableError."""
    usage: str = ""
    """How its URLs look, for messages: ``"postgresql://USER@HOST/DB"``."""


def _open_memory(url: str) -> SnapshotStore:
    if url not in ("memory:", "memory://"):
        raise StoreUnavailableError(
            f"unsupported store URL scheme 'memory' in {url!r}: a memory store is private to its process and has no "
            "name; use memory:"
        )
    return MemoryStore(url)


def _open_sql(url: str) -> SnapshotStore:
    from streamrt.store.sql import (
        SqlStore,  # SQLAlchemy: a few hundred milliseconds, only when a SQL store is used
    )

    return SqlStore(url)


def _open_sqlite_file(path: str) -> SnapshotStore:
    from sqlalchemy.engine import URL  # SQLAlchemy, as above

    from streamrt.store.sql import SqlStore

    # URL.create, not string formatting: a path may hold "?" or "#".
    return SqlStore(URL.create("sqlite+aiosqlite", database=os.path.expanduser(path)))


def _open_redis(url: str) -> SnapshotStore:
    from streamrt.store.redis import RedisStore  # redis-py: only when a Redis store is used

    return RedisStore(url)


_SQLITE: Final = StoreType(_open_sql, "a file path, sqlite:///PATH")
_POSTGRES: Final = StoreType(_open_sql, "postgresql://USER@HOST/DB")

STORES: Final = Registry(
    "streamrt.stores",
    StoreType,
    {
        "memory": StoreType(_open_memory, "memory:"),
        "sqlite": _SQLITE,
        "postgresql": _POSTGRES,
        "postgres": _POSTGRES,
        "redis": StoreType(_open_redis, "redis://HOST:PORT/DB"),
        "rediss": StoreType(_open_redis, "rediss://HOST:PORT/DB"),
    },
    error=StoreUnavailableError,
)
"""Store types by URL scheme."""


def open_store(url: str | None = None) -> SnapshotStore:
    """The store a URL names, not yet opened; a URL that cannot name a store raises StoreUnavailableError.

    Problems only the database can report (an unwritable path, a refused connection) surface when the store is
    opened, also as StoreUnavailableError.
    """
    if url is None:
        url = DEFAULT_STORE_PATH
    url = url.strip()
    if not url:
        raise StoreUnavailableError(f"empty store URL (use {', '.join(STORES.usages())})")
    scheme = scheme_of(url)
    if scheme is None:
        return _open_sqlite_file(url)
    store_type = STORES.get(scheme) or STORES.get(scheme.split("+", 1)[0])
    if store_type is None:
        raise StoreUnavailableError(
            f"unsupported store URL scheme {scheme!r}: use {', '.join(STORES.usages())}"
        )
    return store_type.open(url)
