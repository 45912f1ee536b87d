"""The SQL stores' fast write paths.

SQLite: inline when the database is free, on the driver's thread when it is not. PostgreSQL: single writes on a held
autocommit connection, replaced when it fails.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import pytest

from streamrt.errors import SnapshotConflictError, StoreUnavailableError
from streamrt.store import Snapshot, SqlStore
from streamrt.store.sqlite_file import BUSY_TIMEOUT_MS
from streamrt.store.sqlite_writer import SqliteWriter

pytestmark = pytest.mark.timeout(30)


def snap(sid: str, n: int) -> Snapshot:
    return Snapshot(sid, "tally", state={"n": n}, seq=n)


def writer(store: SqlStore) -> SqliteWriter:
    w = store._writer
    assert w is not None
    return w


def stored(path: Path, sid: str) -> tuple[int, int] | None:
    """(version, seq) of a stream's row, read by an outside connection."""
    db = sqlite3.connect(path)
    try:
        row = db.execute("SELECT version, seq FROM streamrt_snapshots WHERE stream_id = ?", (sid,)).fetchone()
    finally:
        db.close()
    return None if row is None else (row[0], row[1])


async def test_small_writes_are_done_inline_and_committed(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SqlStore(f"sqlite:///{path}") as store:
        v1 = await store.put(snap("a", 1), expected_version=None)
        v2 = await store.put(snap("a", 2), expected_version=v1)
        await store.put_many([(snap("a", 3), v2), (snap("b", 1), None)])
        assert writer(store).inline_writes == 3
        # committed: another connection sees them while the store is still open
        assert (stored(path, "a"), stored(path, "b")) == ((3, 3), (1, 1))


async def test_a_lost_race_inline_is_still_refused(tmp_path: Path) -> None:
    async with SqlStore(f"sqlite:///{tmp_path / 's.db'}") as store:
        await store.put(snap("a", 1), expected_version=None)
        with pytest.raises(Exception, match="version"):
            await store.put(snap("a", 2), expected_version=7)
        with pytest.raises(Exception, match="version"):
            await store.put_many([(snap("b", 1), None), (snap("a", 2), 7)])
        assert stored(tmp_path / "s.db", "b") is None  # the batch was all or nothing


async def test_a_write_waits_for_another_writer_off_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SqlStore(f"sqlite:///{path}") as store:
        version = await store.put(snap("a", 1), expected_version=None)
        inline = writer(store).inline_writes
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            write = asyncio.ensure_future(store.put(snap("a", 2), expected_version=version))
            loop = asyncio.get_running_loop()
            started = loop.time()
            for _ in range(10):
                await asyncio.sleep(0.01)  # the loop keeps running while the write waits for the lock
            # an inline write waiting for the lock would have held the loop for the whole busy timeout; a busy machine
            # may stretch these ten short sleeps, but not to half of it
            assert loop.time() - started < BUSY_TIMEOUT_MS / 1000 / 2
            assert not write.done()
            other.execute("COMMIT")
            assert await write == version + 1
        finally:
            other.close()
        assert writer(store).inline_writes == inline  # it went through the driver's thread
        assert stored(path, "a") == (2, 2)


async def test_large_batches_go_to_the_driver_thread(tmp_path: Path) -> None:
    async with SqlStore(f"sqlite:///{tmp_path / 's.db'}") as store:
        await store.put_many([(snap(f"s{i:03d}", i), None) for i in range(500)])
        assert writer(store).inline_writes == 0
        assert len(await store.list()) == 500


async def test_inline_writes_are_checkpointed_off_the_loop(tmp_path: Path) -> None:
    """The inline connection never checkpoints itself; the store does, so the write-ahead log does not grow."""
    path = tmp_path / "s.db"
    async with SqlStore(f"sqlite:///{path}") as store:
        w = writer(store)
        version = None
        for n in range(1100):
            version = await store.put(snap("a", n), expected_version=version)
            if w._checkpoint is not None:
                await w._checkpoint
        assert w.inline_writes == 1100
        # a checkpoint ran, so the log restarted: it holds only the writes since (without one: 1100 frames)
        db = sqlite3.connect(path)
        try:
            _, frames, _ = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            db.close()
        assert 0 < frames < 200, frames


@pytest.mark.postgres
async def test_postgresql_single_writes_use_one_held_connection_and_replace_a_lost_one(
    postgres_url: str,
) -> None:
    import asyncpg

    sid = f"held-{uuid.uuid4().hex[:8]}"
    async with SqlStore(postgres_url) as store:
        version = await store.put(snap(sid, 1), expected_version=None)
        version = await store.put(snap(sid, 2), expected_version=version)
        held = store._alone
        assert held is not None
        with pytest.raises(SnapshotConflictError):
            await store.put(snap(sid, 3), expected_version=version - 1)
        assert store._alone is held  # a lost race is no fault of the connection

        driver = (await held.get_raw_connection()).driver_connection
        assert driver is not None
        other = await asyncpg.connect(postgres_url)
        try:  # the server drops the connection (a restart, an idle timeout, an administrator)
            await other.execute("SELECT pg_terminate_backend($1)", driver.get_server_pid())
        finally:
            await other.close()
        with pytest.raises(StoreUnavailableError, match="writing"):
            await store.put(snap(sid, 3), expected_version=version)
        # the next write takes a fresh connection
        version = await store.put(snap(sid, 3), expected_version=version)
        assert store._alone is not None and store._alone is not held
        got = await store.get(sid)
        assert (got.version, got.seq) == (version, 3) == (3, 3)
