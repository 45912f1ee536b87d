"""Serve tests run a real uvicorn on a loopback port chosen by the OS, started and stopped by each test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec.structs
import pytest

from streamrt.serve import ApiServer, ServeConfig, create_app, hash_token

HERE = Path(__file__).parent
SCRIPT = HERE / "echo.rtfs"
TOKENS = {"alice": "alice-secret-token", "bob": "bob-secret-token"}


def config(**changes: Any) -> ServeConfig:
    base = ServeConfig(
        scripts=[SCRIPT],
        store="memory:",
        tokens={hash_token(t): c for c, t in TOKENS.items()},
        heartbeat=15.0,
    )
    return msgspec.structs.replace(base, **changes)


@asynccontextmanager
async def running(cfg: ServeConfig, port: int = 0) -> AsyncIterator[ApiServer]:
    server = ApiServer(create_app(cfg), "127.0.0.1", port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def client(server: ApiServer, who: str = "alice", **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {TOKENS[who]}"}, timeout=30, **kwargs
    )


@pytest.fixture
def make_config() -> Callable[..., ServeConfig]:
    return config


async def _fresh_database(server_url: str) -> tuple[str, Callable[[], Any]]:
    """A new empty database on the session's PostgreSQL server, and a coroutine function that drops it."""
    import asyncpg

    name = "serve_" + uuid.uuid4().hex[:12]
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    return server_url.rsplit("/", 1)[0] + "/" + name, drop


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def durable_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty durable store: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "serve.db")
        return
    url, drop = await _fresh_database(request.getfixturevalue("postgres_url"))
    try:
        yield url
    finally:
        await drop()
