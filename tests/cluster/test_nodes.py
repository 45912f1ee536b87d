"""Two cluster nodes in one process, each a real uvicorn on loopback with the cluster's routing, on the suite's Redis
and a fresh PostgreSQL database: what a client sees through either node (pushes by key, listings, events)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
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


@dataclass
class TwoNodes:
    """Nodes a and b of one cluster, with alice's client on each."""

    a: ApiServer
    b: ApiServer
    via_a: httpx.AsyncClient
    via_b: httpx.AsyncClient


@pytest.fixture
async def nodes(redis_url: str, store_url: str) -> AsyncIterator[TwoNodes]:
    async with (
        node(redis_url, store_url) as a,
        node(redis_url, store_url) as b,
        api(a) as via_a,
        api(b) as via_b,
    ):
        yield TwoNodes(a, b, via_a, via_b)


async def until(test: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await test():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_a_push_retried_with_its_key_on_the_next_owner_applies_once(nodes: TwoNodes) -> None:
    a, b, via_a, via_b = nodes.a, nodes.b, nodes.via_a, nodes.via_b
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


async def test_any_node_lists_every_stream_of_the_client_with_the_node_that_runs_it(nodes: TwoNodes) -> None:
    a, b, alice_a, alice_b = nodes.a, nodes.b, nodes.via_a, nodes.via_b
    async with api(a, "bob") as bob_a, api(b, "bob") as bob_b:
        assert (await alice_a.post("/streams", json={"processor": "tally", "id": "on-a"})).status_code == 201
        assert (await alice_b.post("/streams", json={"processor": "tally", "id": "on-b"})).status_code == 201
        assert (await bob_a.post("/streams", json={"processor": "tally", "id": "bobs"})).status_code == 201
        assert (await alice_b.post("/streams/on-a/chunks", json=[5, 6])).status_code == 202

        async def listed(c: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
            return {doc["id"]: doc for doc in (await c.get("/streams")).json()["streams"]}

        async def figures_published() -> bool:
            return (await listed(alice_b))["on-a"]["processed"] == 2

        await until(figures_published)
        for c, here in ((alice_a, a), (alice_b, b)):
            docs = await listed(c)
            assert list(docs) == ["on-a", "on-b"]  # oldest first, bob's not there
            assert docs["on-a"]["node"] == a.url and docs["on-b"]["node"] == b.url
            assert docs["on-a"]["outputs"] == 2 and docs["on-a"]["status"] == "active"
            assert docs["on-a"]["urls"]["self"] == f"{here.url}/streams/on-a"
        assert {i: d["node"] for i, d in (await listed(bob_b)).items()} == {"bobs": a.url}
        assert (await alice_b.delete("/streams/on-a")).status_code == 204  # forwarded to a
        assert list(await listed(alice_b)) == ["on-b"]
        assert list(await listed(alice_a)) == ["on-b"]


async def test_a_subscriber_on_another_node_replays_and_follows_the_events(nodes: TwoNodes) -> None:
    a, b, via_a, via_b = nodes.a, nodes.b, nodes.via_a, nodes.via_b
    assert (await via_a.post("/streams", json={"processor": "tally", "id": "ev"})).status_code == 201
    assert "ev" in a.service.provider.streams and "ev" not in b.service.provider.streams

    async def read(after: int) -> list[tuple[int, str, dict[str, Any]]]:
        got: list[tuple[int, str, dict[str, Any]]] = []
        async with via_b.stream("GET", "/streams/ev/events", headers={"Last-Event-ID": str(after)}) as r:
            assert r.status_code == 200
            event: dict[str, str] = {}
            async for line in r.aiter_lines():
                if line.startswith(("id:", "event:", "data:")):
                    name, _, value = line.partition(":")
                    event[name] = value.strip()
                elif not line and "data" in event:
                    got.append((int(event["id"]), event["event"], json.loads(event["data"])))
                    event = {}
        return got

    follower = asyncio.create_task(read(0))
    await asyncio.sleep(0.3)  # the subscriber on b waits for events that a writes
    for chunk in (1, 2, 3):
        assert (await via_b.post("/streams/ev/chunks", json=chunk)).status_code == 202
    await via_b.post("/streams/ev/directives", json={"action": "end"})
    events = await asyncio.wait_for(follower, 30)
    assert [e[0] for e in events] == list(range(1, len(events) + 1))
    assert [e[2]["value"] for e in events if e[1] == "output"] == [1, 3, 6]
    assert events[-1][1] == "status" and events[-1][2]["to"] == "completed"
    first_output = next(e[0] for e in events if e[1] == "output")
    again = await read(first_output)
    assert [e[0] for e in again] == [e[0] for e in events if e[0] > first_output]
