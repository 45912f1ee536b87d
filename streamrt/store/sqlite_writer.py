"""The fast write path of a SQLite snapshot store.

Theory of operation
-------------------
aiosqlite runs every driver call on its own thread. Each call is a hop there and back: the worker thread must be
woken, must take the GIL from the event loop's thread, and must wake the loop again. Measured on a 2-core VM, that
costs about 40 µs when hops come back to back but 100-500 µs after the loop has been busy for a millisecond (the
idle worker and the idle CPU it sleeps on must be woken), while the ``UPDATE`` itself, appended to the WAL without
an fsync, takes 10-30 µs. Interval snapshots are exactly that case: one write after each stretch of busy work.

So a write goes *inline* when it can: a plain ``sqlite3`` connection, used only from the event loop's thread, runs
it right there, with ``busy_timeout=0`` so that it never sleeps on a lock. Three things could make an inline write
block the loop, and each is kept off it:

- another connection holds the database's write lock (another process, or this store's own leases and dead
  letters): SQLite answers ``SQLITE_BUSY`` at once, nothing has been written, and the write is redone on the
  aiosqlite connection, whose ``busy_timeout`` waits on the worker thread;
- a checkpoint (the WAL copied into the database, with two fsyncs): the inline connection has
  ``wal_autocheckpoint=0``; after about as many WAL pages as SQLite's own automatic checkpoint would allow, a
  ``PRAGMA wal_checkpoint(PASSIVE)`` runs on a worker thread on a connection of its own (it does not block writers);
- a large batch (resuming thousands of streams writes them in one ``put_many``): above ``_INLINE_ROWS`` rows or
  ``_INLINE_BYTES`` bytes it goes through the aiosqlite connection.

Either way the SQL is what SQLAlchemy compiled from the store's Core statements:

- one snapshot: a single ``UPDATE ... WHERE version = ?`` (or ``INSERT ... ON CONFLICT DO NOTHING``), which SQLite
  commits atomically by itself;
- a batch: ``BEGIN IMMEDIATE``, one ``executemany`` for the new streams, one for the updates, ``COMMIT``. Inserts
  go first; a batch that succeeds in its given order also succeeds in this one, because a stream's insert can only
  be its first write.

The summed row count says whether every write won. When one did not, the batch is rolled back and
:meth:`SqliteWriter.write` returns False; the store then replays the batch statement by statement through
SQLAlchemy, which finds and names the conflict. Writes are serialised: an inline write is synchronous, and one on
the aiosqlite connection holds a lock that inline writes also respect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import Insert, Update

__all__ = ["SqliteWriter"]

Row = dict[str, Any]
"""One write's bind parameters, keyed by the ``p_*`` names of the store's statements."""

_log: Final = logging.getLogger("streamrt.store")
_INLINE_ROWS: Final = 128
_INLINE_BYTES: Final = 256 * 1024
"""Beyond either, a batch would hold the event loop for a millisecond or more: it goes to the worker thread."""
_CHECKPOINT_PAGES: Final = 1000
"""WAL pages written inline between two checkpoints: SQLite's own ``wal_autocheckpoint`` default."""


class SqliteWriter:
    """Writes snapshot rows inline when the database is free, on aiosqlite's thread when it is not."""

    def __init__(self, insert: Insert, update: Update) -> None:
        self._statements = (insert, update)
        self._lock = asyncio.Lock()
        self._conn: AsyncConnection | None = None
        self._driver: Any = None  # the aiosqlite.Connection under SQLAlchemy's adapter
        self._saved_isolation: Any = None
        self._inline: sqlite3.Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpoint: asyncio.Task[None] | None = None
        self._page_size = 4096
        self._pages = 0
        self._insert_sql = self._update_sql = ""
        self._insert_keys: tuple[str, ...] = ()
        self._update_keys: tuple[str, ...] = ()
        self.inline_writes = 0
        """Writes done inline (the rest went to the worker thread): for tests and benchmarks."""

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
            # the same file, as the dialect would open it (relative paths, ``uri=true``)
            args, kwargs = engine.dialect.create_connect_args(make_url(engine.url))
            kwargs = {**kwargs, "isolation_level": None, "check_same_thread": False}
            pair = await asyncio.to_thread(_open_pair, args, kwargs)
            if pair is not None:
                self._inline, self._checkpointer, self._page_size = pair
        except BaseException:
            await self._close_sqlite()
            if self._driver is not None:
                self._driver.isolation_level = self._saved_isolation
                self._driver = None
            await conn.close()
            raise
        self._conn = conn

    async def aclose(self) -> None:
        async with self._lock:
            if self._checkpoint is not None:
                await asyncio.gather(self._checkpoint, return_exceptions=True)
                self._checkpoint = None
            await self._close_sqlite()
            conn, self._conn = self._conn, None
            if conn is None:
                return
            # Hand the connection back to the pool the way SQLAlchemy expects to find it.
            self._driver.isolation_level = self._saved_isolation
            self._driver = None
            await conn.close()

    async def _close_sqlite(self) -> None:
        inline, checkpointer = self._inline, self._checkpointer
        self._inline = self._checkpointer = None
        # closing the last connection of a WAL database checkpoints it (fsyncs): not on the loop's thread
        for db in (inline, checkpointer):
            if db is not None:
                await asyncio.to_thread(db.close)

    async def write(self, rows: Sequence[Row]) -> bool:
        """Write the rows in one transaction; False (and nothing written) if any expected version did not match."""
        inline = self._inline
        if inline is not None and not self._lock.locked() and _small(rows):
            try:
                won = self._run(inline, rows)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
                # another connection is writing; nothing was written: wait for it on the worker thread
            else:
                self.inline_writes += 1
                self._wrote(rows)
                return won
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
            inserts, updates = self._params(rows)
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

    def _run(self, db: sqlite3.Connection, rows: Sequence[Row]) -> bool:
        """The write on the inline connection; raises SQLITE_BUSY with nothing written if the database is taken."""
        if len(rows) == 1:
            (row,) = rows
            if row["p_expected"] is None:
                cursor = db.execute(self._insert_sql, [row[k] for k in self._insert_keys])
            else:
                cursor = db.execute(self._update_sql, [row[k] for k in self._update_keys])
            return cursor.rowcount == 1
        inserts, updates = self._params(rows)
        db.execute("BEGIN IMMEDIATE")
        try:
            won = True
            if inserts:
                won = db.executemany(self._insert_sql, inserts).rowcount == len(inserts)
            if won and updates:
                won = db.executemany(self._update_sql, updates).rowcount == len(updates)
            db.execute("COMMIT" if won else "ROLLBACK")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return won

    def _params(self, rows: Sequence[Row]) -> tuple[list[list[Any]], list[list[Any]]]:
        inserts = [[r[k] for k in self._insert_keys] for r in rows if r["p_expected"] is None]
        updates = [[r[k] for k in self._update_keys] for r in rows if r["p_expected"] is not None]
        return inserts, updates

    def _wrote(self, rows: Sequence[Row]) -> None:
        """Count the WAL pages inline writes added (about: a leaf page per row plus the blobs' overflow pages)."""
        self._pages += len(rows) + sum(len(r["p_blob"]) for r in rows) // self._page_size
        if self._pages >= _CHECKPOINT_PAGES and self._checkpoint is None and self._checkpointer is not None:
            self._pages = 0
            self._checkpoint = asyncio.get_running_loop().create_task(
                self._run_checkpoint(self._checkpointer), name="streamrt-sqlite-checkpoint"
            )

    async def _run_checkpoint(self, db: sqlite3.Connection) -> None:
        try:
            await asyncio.to_thread(db.execute, "PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            # not fatal: the log only grows until the next attempt (or another connection's own checkpoint)
            _log.warning("SQLite checkpoint failed: %s", exc)
        finally:
            self._checkpoint = None


def _small(rows: Sequence[Row]) -> bool:
    return len(rows) <= _INLINE_ROWS and sum(len(r["p_blob"]) for r in rows) <= _INLINE_BYTES


def _open_pair(
    args: Sequence[Any], kwargs: dict[str, Any]
) -> tuple[sqlite3.Connection, sqlite3.Connection, int] | None:
    """The inline connection (never waits for a lock, never checkpoints), the checkpointer's, and the page size.

    None if the database is not in WAL mode (the store sets it, but a file system may refuse it): without WAL every
    commit would fsync, and writes stay on the worker thread.
    """
    inline = sqlite3.connect(*args, **kwargs)
    try:
        if str(inline.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            inline.close()
            return None
        inline.execute("PRAGMA busy_timeout=0")
        inline.execute("PRAGMA synchronous=NORMAL")
        inline.execute("PRAGMA wal_autocheckpoint=0")
        page_size = int(inline.execute("PRAGMA page_size").fetchone()[0])
        checkpointer = sqlite3.connect(*args, **kwargs)
    except BaseException:
        inline.close()
        raise
    return inline, checkpointer, page_size
