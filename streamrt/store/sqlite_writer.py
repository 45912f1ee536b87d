"""The fast write path of a SQLite snapshot store.

Theory of operation
-------------------
aiosqlite runs every driver call on its own thread, and each call is a hop there and back (tens of microseconds).
Through SQLAlchemy's adapter a snapshot write costs five hops (cursor, execute, commit, and the pool's checkout and
reset), which caps per-chunk snapshots at a few thousand a second. This writer keeps one connection for writes,
in autocommit mode, and talks to its aiosqlite driver connection directly with the SQL that SQLAlchemy compiled
from the store's Core statements:

- one snapshot: a single ``UPDATE ... WHERE version = ?`` (or ``INSERT ... ON CONFLICT DO NOTHING``), which SQLite
  commits atomically by itself: one hop;
- a batch: ``BEGIN IMMEDIATE``, one ``executemany`` for the new streams, one for the updates, ``COMMIT``: four
  hops, whatever the batch size. Inserts go first; a batch that succeeds in its given order also succeeds in this
  one, because a stream's insert can only be its first write.

The summed row count says whether every write won. When one did not, the batch is rolled back and
:meth:`SqliteWriter.write` returns False; the store then replays the batch statement by statement through
SQLAlchemy, which finds and names the conflict. Writes are serialised by a lock, as SQLite serialises writers anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import Insert, Update

__all__ = ["SqliteWriter"]

Row = dict[str, Any]
"""One write's bind parameters, keyed by the ``p_*`` names of the store's statements."""


class SqliteWriter:
    """One dedicated autocommit connection that writes snapshot rows in as few driver calls as possible."""

    def __init__(self, insert: Insert, update: Update) -> None:
        self._statements = (insert, update)
        self._lock = asyncio.Lock()
        self._conn: AsyncConnection | None = None
        self._driver: Any = None  # the aiosqlite.Connection under SQLAlchemy's adapter
        self._saved_isolation: Any = None
        self._insert_sql = self._update_sql = ""
        self._insert_keys: tuple[str, ...] = ()
        self._update_keys: tuple[str, ...] = ()

    async def open(self, engine: AsyncEngine) -> None:
        insert, update = self._statements
        compiled_insert, compiled_update = (
            insert.compile(dialect=engine.dialect),
            update.compile(dialect=engine.dialect),
        )
        self._insert_sql, self._update_sql = compiled_insert.string, compiled_update.string
        self._insert_keys = tuple(compiled_insert.positiontup or ())
        self._update_keys = tuple(compiled_update.positiontup or ())
        conn = await engine.connect()
        try:
            raw = await conn.get_raw_connection()
            self._driver = raw.driver_connection
            self._saved_isolation = self._driver.isolation_level
            self._driver.isolation_level = None
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def aclose(self) -> None:
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            # Hand the connection back to the pool the way SQLAlchemy expects to find it.
            self._driver.isolation_level = self._saved_isolation
            self._driver = None
            await conn.close()

    async def write(self, rows: Sequence[Row]) -> bool:
        """Write the rows in one transaction; False (and nothing written) if any expected version did not match."""
        async with self._lock:
            db = self._driver
            if db is None:
                raise RuntimeError("the SQLite writer is closed")
            if len(rows) == 1:
                (row,) = rows
                if row["p_expected"] is None:
                    cursor = await db.execute(self._insert_sql, [row[k] for k in self._insert_keys])
                else:
                    cursor = await db.execute(self._update_sql, [row[k] for k in self._update_keys])
                return bool(cursor.rowcount == 1)
            inserts = [[r[k] for k in self._insert_keys] for r in rows if r["p_expected"] is None]
            updates = [[r[k] for k in self._update_keys] for r in rows if r["p_expected"] is not None]
            try:
                await db.execute("BEGIN IMMEDIATE")
                won = True
                if inserts:
                    won = (await db.executemany(self._insert_sql, inserts)).rowcount == len(inserts)
                if won and updates:
                    won = (await db.executemany(self._update_sql, updates)).rowcount == len(updates)
                await db.execute("COMMIT" if won else "ROLLBACK")
            except BaseException:
                # Cancelled or failed mid-transaction: the connection must not stay inside it. The driver runs calls
                # in order, so this ROLLBACK follows whatever is still in flight; it fails harmlessly if none began.
                with contextlib.suppress(sqlite3.OperationalError):
                    await db.execute("ROLLBACK")
                raise
            return won
