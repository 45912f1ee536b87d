"""What only the SQL store does: schema on first use, persistence across opens, several stores on one database,
SQLite's durability settings, and clear errors for stores that cannot be opened."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from pathlib import Path

import pytest

from streamrt.errors import SnapshotConflictError, SnapshotCorruptError, StoreUnavailableError
from streamrt.store import MemoryStore, Snapshot, SqlStore, open_store
from streamrt.store.schema import SCHEMA_VERSION
from streamrt.values import Keyword

K = Keyword


async def _sql(url: str, statement: str, *args: object) -> list[tuple[object, ...]]:
    """Run one statement on the database behind a store URL, bypassing the store."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            rows = conn.execute(statement.replace("$1", "?").replace("$2", "?"), args).fetchall()
            conn.commit()
            return rows
        finally:
            conn.close()
    import asyncpg

    pg = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await pg.fetch(statement, *args)]
    finally:
        await pg.close()


async def test_schema_is_created_on_first_use_with_its_version(sql_url: str) -> None:
    async with SqlStore(sql_url):
        pass
    assert await _sql(sql_url, "SELECT id, version FROM streamrt_schema") == [(1, SCHEMA_VERSION)]
    for table in ("streamrt_snapshots", "streamrt_leases", "streamrt_dead_letters"):
        assert await _sql(sql_url, f"SELECT count(*) FROM {table}") == [(0,)]


async def test_everything_survives_closing_and_reopening(sql_url: str) -> None:
    async with SqlStore(sql_url) as store:
        await store.put(
            Snapshot("s1", "p", state={K("n"): 1}, queue=[(1, {K("seq"): 1})]), expected_version=None
        )
        await store.claim("s1", "host-1", ttl=3600)
        await store.add_dead_letter("s1", 1, {K("bad"): True}, {K("line"): 1}, "boom")
    async with SqlStore(sql_url) as store:
        got = await store.get("s1")
        assert (got.state, got.queue, got.version) == ({K("n"): 1}, [(1, {K("seq"): 1})], 1)
        lease = await store.lease("s1")
        assert lease is not None and lease.owner == "host-1"
        assert [d.chunk for d in await store.dead_letters("s1")] == [{K("bad"): True}]


async def test_two_stores_on_one_database_race_and_one_loses(sql_url: str) -> None:
    async with SqlStore(sql_url) as a, SqlStore(sql_url) as b:
        await a.put(Snapshot("s1", "p"), expected_version=None)
        mine, theirs = await a.get("s1"), await b.get("s1")
        results = await asyncio.gather(
            a.put(mine, expected_version=1), b.put(theirs, expected_version=1), return_exceptions=True
        )
        assert sorted(type(r).__name__ for r in results) == ["SnapshotConflictError", "int"]
        assert (await a.get("s1")).version == 2
        assert await a.claim("s1", "provider-a", ttl=60)
        assert not await b.claim("s1", "provider-b", ttl=60)
        with pytest.raises(SnapshotConflictError):
            await b.put(Snapshot("s1", "p"), expected_version=None)


async def test_concurrent_openers_of_an_empty_database_all_succeed(sql_url: str) -> None:
    stores = [SqlStore(sql_url) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        assert await _sql(sql_url, "SELECT version FROM streamrt_schema") == [(SCHEMA_VERSION,)]
        await stores[0].put(Snapshot("s1", "p"), expected_version=None)
        assert [s.stream_id for s in await stores[3].list()] == ["s1"]
    finally:
        await asyncio.gather(*(s.aclose() for s in stores))


async def test_openers_racing_on_new_sqlite_files_never_find_them_locked(tmp_path: Path) -> None:
    """Switching a new file to WAL can fail at once with SQLITE_BUSY (no busy wait); it is retried instead.

    Before the retry about one round in ten failed with "database is locked".
    """
    for round_ in range(20):
        stores = [SqlStore(f"sqlite:///{tmp_path / f'r{round_}.db'}") for _ in range(4)]
        try:
            await asyncio.gather(*(s.open() for s in stores))
        finally:
            await asyncio.gather(*(s.aclose() for s in stores))
        db = sqlite3.connect(tmp_path / f"r{round_}.db")
        try:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        finally:
            db.close()


async def test_a_newer_schema_is_refused(sql_url: str) -> None:
    async with SqlStore(sql_url):
        pass
    await _sql(sql_url, "UPDATE streamrt_schema SET version = 99")
    with pytest.raises(
        StoreUnavailableError, match=f"schema version 99, but this streamrt knows version {SCHEMA_VERSION}"
    ):
        await SqlStore(sql_url).open()


async def test_a_version_1_database_gains_the_fence_column_and_keeps_its_snapshots(sql_url: str) -> None:
    async with SqlStore(sql_url) as store:
        await store.put(Snapshot("s1", "p", state={K("n"): 1}), expected_version=None)
    # what a streamrt of schema version 1 left: no fence column
    await _sql(sql_url, "ALTER TABLE streamrt_snapshots DROP COLUMN fence")
    await _sql(sql_url, "UPDATE streamrt_schema SET version = 1")
    async with SqlStore(sql_url) as store:
        got = await store.get("s1")
        assert (got.state, got.version, got.fence) == ({K("n"): 1}, 1, 0)
        assert await store.raise_fence("s1", 3) == 0
        got.fence = 3
        assert await store.put(got, expected_version=1) == 2
    assert await _sql(sql_url, "SELECT version FROM streamrt_schema") == [(SCHEMA_VERSION,)]
    assert await _sql(sql_url, "SELECT fence FROM streamrt_snapshots") == [(3,)]


async def test_a_corrupt_row_is_refused_by_stream_name(sql_url: str) -> None:
    async with SqlStore(sql_url) as store:
        await store.put(Snapshot("s1", "p", state={K("n"): 1}), expected_version=None)
        blob = (await _sql(sql_url, "SELECT blob FROM streamrt_snapshots"))[0][0]
        assert isinstance(blob, bytes)
        await _sql(sql_url, "UPDATE streamrt_snapshots SET blob = $1 WHERE stream_id = $2", blob[:-5], "s1")
        with pytest.raises(SnapshotCorruptError, match="snapshot of stream 's1' is corrupt: truncated"):
            await store.get("s1")


async def test_sqlite_runs_in_wal_mode_with_normal_sync(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SqlStore(f"sqlite:///{path}") as store:
        await store.put(Snapshot("s1", "p"), expected_version=None)
        engine = store._engine
        assert engine is not None
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 10_000
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        db.close()


# --- stores that cannot be opened --------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _open_error(url: str) -> str:
    with pytest.raises(StoreUnavailableError) as info:
        async with open_store(url):
            pass
    message = str(info.value)
    assert "Traceback" not in message and "sqlalche.me" not in message and "[SQL:" not in message
    return message


async def test_a_sqlite_file_in_a_missing_directory(tmp_path: Path) -> None:
    message = await _open_error(str(tmp_path / "no" / "such" / "dir" / "s.db"))
    assert f"the directory '{tmp_path}/no/such/dir' does not exist" in message


async def test_a_sqlite_path_that_is_a_directory(tmp_path: Path) -> None:
    message = await _open_error(f"sqlite:///{tmp_path}")
    assert f"cannot open the SQLite snapshot store '{tmp_path}': it is a directory" in message


async def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not the pages you are looking for\n" * 100)
    message = await _open_error(str(path))
    assert "file is not a database" in message


async def test_a_refused_postgresql_connection_hides_the_password() -> None:
    message = await _open_error(f"postgresql://app:s3cret-pw@127.0.0.1:{_closed_port()}/db")
    assert "s3cret-pw" not in message
    assert "postgresql+asyncpg://app:***@127.0.0.1" in message
    assert "opening failed" in message


@pytest.mark.postgres
async def test_a_missing_postgresql_database(postgres_url: str) -> None:
    message = await _open_error(postgres_url.rsplit("/", 1)[0] + "/no_such_db")
    assert 'database "no_such_db" does not exist' in message


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        pytest.param(
            "mongodb://u:s3cret-pw@localhost/0", "unsupported store URL scheme 'mongodb'", id="bad-scheme"
        ),
        pytest.param(
            "mysql+aiomysql://u:s3cret-pw@h/db", r"unsupported store URL scheme 'mysql\+aiomysql'", id="mysql"
        ),
        pytest.param("memory:named", "unsupported store URL scheme 'memory'", id="memory-with-a-name"),
        pytest.param("   ", "empty store URL", id="empty"),
        pytest.param("postgresql://u:s3cret-pw@h:notaport/db", "invalid store URL", id="bad-port"),
    ],
)
def test_urls_that_name_no_store(url: str, needle: str) -> None:
    with pytest.raises(StoreUnavailableError, match=needle) as info:
        open_store(url)
    assert "s3cret-pw" not in str(info.value)


# --- choosing a store by URL --------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["memory:", "memory://"])
def test_memory_urls(url: str) -> None:
    assert isinstance(open_store(url), MemoryStore)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("sqlite:///rel/s.db", "sqlite+aiosqlite:///rel/s.db", id="sqlite-relative"),
        pytest.param("sqlite:////abs/s.db", "sqlite+aiosqlite:////abs/s.db", id="sqlite-absolute"),
        pytest.param("sqlite+aiosqlite:///s.db", "sqlite+aiosqlite:///s.db", id="sqlite-aiosqlite"),
        pytest.param("./state/s.db", "sqlite+aiosqlite:///./state/s.db", id="plain-path"),
        pytest.param("postgresql://u:pw@h/db", "postgresql+asyncpg://u:***@h/db", id="postgresql"),
        pytest.param("postgres://u@h:5433/db", "postgresql+asyncpg://u@h:5433/db", id="postgres"),
        pytest.param("postgresql+psycopg2://u@h/db", "postgresql+asyncpg://u@h/db", id="other-pg-driver"),
        pytest.param("postgresql+asyncpg://h/db", "postgresql+asyncpg://h/db", id="asyncpg"),
    ],
)
def test_sql_urls(url: str, expected: str) -> None:
    store = open_store(url)
    assert isinstance(store, SqlStore)
    assert store.url == expected


def test_no_url_means_streamrt_db_here() -> None:
    store = open_store(None)
    assert isinstance(store, SqlStore) and store.url == "sqlite+aiosqlite:///./streamrt.db"


async def test_a_plain_path_opens_a_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    async with open_store("~/s?1#.db") as store:
        await store.put(Snapshot("s1", "p"), expected_version=None)
    assert await _sql(
        f"sqlite:///{tmp_path / 's?1#.db'}", "SELECT stream_id, version FROM streamrt_snapshots"
    ) == [("s1", 1)]


def test_a_redis_url_opens_a_redis_store_and_masks_its_password() -> None:
    from streamrt.store.redis import RedisStore

    store = open_store("redis://u:s3cret-pw@localhost:6379/0?prefix=app1:")
    assert isinstance(store, RedisStore)
    assert "s3cret-pw" not in store.url and store.url.startswith("redis://u:***@localhost:6379/0")
