"""Two cluster nodes in one process, each a real uvicorn on loopback with the cluster's routing, on the suite's Redis
and a fresh PostgreSQL database: what a client sees through either node (pushes by key, listings, events)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest

from streamrt.cluster.node import ClusterService
from streamrt.cluster.routing import ClusterRouting
from streamrt.serve import ApiServer, ServeConfig, create_app, hash_token
from tests.cluster.harness import TALLY, free_port
from tests.store.conftest import _create_database

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

TOKENS = {"alice": "alice-token", "bob": "bob-token"}


@pytest.fixture
async def store_url(postgres_url: str) -> AsyncIterator[str]:
    url, drop = await _create_database(postgres_url)
    yield url
    await drop()


@asynccontextmanager
async def node(redis_url: str, store: str) -> AsyncIterator[ApiServer]:
    """One node on a free port (its advertised URL), rebalancing often so a hand-over shows at once."""
    port = free_port()
    config = ServeConfig(
        scripts=[str(TALLY)], store=store, tokens={hash_token(t): c for c, t in TOKENS.items()}, port=port
    )
    service = ClusterService(
        config, redis_url, advertise=f"http://127.0.0.1:{port}", lease_ttl=2.0, rebalance_every=0.2
    )
    app = create_app(config, service=service)
    app.add_middleware(ClusterRouting, service=service)
    server = ApiServer(app, "127.0.0.1", port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def api(server: ApiServer, who: str = "alice") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {TOKENS[who]}"}, timeout=30
    )


async def until(test: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await test():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_a_push_retried_with_its_key_on_the_next_owner_applies_once(
    redis_url: str, store_url: str
) -> None:
    async with AsyncExitStack() as nodes:
        a = await nodes.enter_async_context(node(redis_url, store_url))
        b = await nodes.enter_async_context(node(redis_url, store_url))
        async with api(a) as via_a, api(b) as via_b:
            assert (await via_a.post("/streams", json={"processor": "tally", "id": "t1"})).status_code == 201
            key = {"Idempotency-Key": "first"}
            r = await via_b.post("/streams/t1/chunks", json=[1, 2, 3], headers=key)  # forwarded to a
            assert r.json() == {"accepted": 3, "total": 3, "replayed": False}
            await a.stop()  # a clean stop hands t1 over: b takes it at its next rebalance

            async def b_runs_it() -> bool:
                return b.service.opened and "t1" in b.service.provider.streams

            await until(b_runs_it)
            r = await via_b.post("/streams/t1/chunks", json=[1, 2, 3], headers=key)
            assert r.status_code == 202 and r.json() == {"accepted": 3, "total": 3, "replayed": True}
            r = await via_b.post("/streams/t1/chunks", json=[4], headers={"Idempotency-Key": "second"})
            assert r.json() == {"accepted": 1, "total": 1, "replayed": False}
            await via_b.post("/streams/t1/directives", json={"action": "end"})

            async def completed() -> bool:
                doc: dict[str, Any] = (await via_b.get("/streams/t1")).json()
                return doc["status"] == "completed"

            await until(completed)
            assert (await via_b.get("/streams/t1")).json()["state"] == {"n": 4, "sum": 10}
