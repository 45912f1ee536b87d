"""Store fixtures: the same tests run against the memory store, SQLite, PostgreSQL and Redis.

The ``store`` fixture shares the session's PostgreSQL database and empties its tables before each test (cheap);
``sql_url`` gives each test a database of its own (about 0.2 s), for tests about schema creation and for tests
that open several stores on one database.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from streamrt.store import MemoryStore, SnapshotStore, SqlStore


class FakeClock:
    """A wall clock the test moves by hand, so lease expiry needs no waiting."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def _create_database(server_url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    """Create an empty database next to the session's; return its URL and a coroutine function that drops it."""
    import asyncpg

    name = "t_" + uuid.uuid4().hex[:16]
    admin_dsn = server_url  # connect to the session's database to create and drop the per-test one
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    return server_url.rsplit("/", 1)[0] + "/" + name, drop


async def _empty_tables(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("TRUNCATE streamrt_snapshots, streamrt_leases, streamrt_dead_letters")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL of an empty SQL database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'streamrt.db'}"
        return
    url, drop = await _create_database(request.getfixturevalue("postgres_url"))
    try:
        yield url
    finally:
        await drop()


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[SnapshotStore]:
    """An open, empty store of each kind, on the fake clock."""
    if request.param == "memory":
        async with MemoryStore(clock=clock) as memory:
            yield memory
        return
    if request.param == "sqlite":
        async with SqlStore(f"sqlite:///{tmp_path / 'streamrt.db'}", clock=clock) as sqlite_store:
            yield sqlite_store
        return
    if request.param == "redis":
        from streamrt.store.redis import RedisStore

        async with RedisStore(request.getfixturevalue("redis_url"), clock=clock) as redis_store:
            yield redis_store
        return
    url = request.getfixturevalue("postgres_url")
    async with SqlStore(url, clock=clock) as pg_store:
        await _empty_tables(url)
        yield pg_store
