"""Per-client limits answered 429 with Retry-After, the idle TTL, and CORS, on a real uvicorn."""

from __future__ import annotations

import asyncio
import json

import httpx

from streamrt.serve import ClientLimits
from tests.serve.conftest import client, config, running


async def test_over_the_concurrent_streams_limit_is_429_until_one_ends() -> None:
    limits = ClientLimits(streams=2)
    async with (
        running(config(limits=limits)) as server,
        client(server, "alice") as alice,
        client(server, "bob") as bob,
    ):
        ids = [(await alice.post("/streams", json={"processor": "echo"})).json()["id"] for _ in range(2)]
        r = await alice.post("/streams", json={"processor": "echo"})
        assert r.status_code == 429 and r.json()["code"] == "too-many-streams" and r.headers["retry-after"]
        assert (await bob.post("/streams", json={"processor": "echo"})).status_code == 201  # per client
        await alice.post(f"/streams/{ids[0]}/directives", json={"action": "cancel"})
        assert (await alice.post("/streams", json={"processor": "echo"})).status_code == 201


async def test_over_the_pushes_per_minute_limit_is_429_with_the_wait() -> None:
    async with running(config(limits=ClientLimits(pushes_per_minute=3))) as server, client(server) as c:
        sid = (await c.post("/streams", json={"processor": "echo"})).json()["id"]
        for i in range(3):
            assert (await c.post(f"/streams/{sid}/chunks", json=[i])).status_code == 202
        r = await c.post(f"/streams/{sid}/chunks", json=[3])
        assert r.status_code == 429 and r.json()["code"] == "rate-limited"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert (await c.get(f"/streams/{sid}")).json()["seq"] == 3  # the refused push took nothing


async def test_over_the_subscribers_limit_is_429_and_a_closed_subscription_frees_its_place() -> None:
    async with running(config(limits=ClientLimits(subscribers=2))) as server, client(server) as c:
        sid = (await c.post("/streams", json={"processor": "echo"})).json()["id"]
        path = f"/streams/{sid}/events"
        async with c.stream("GET", path) as first, c.stream("GET", path) as second:
            assert first.status_code == second.status_code == 200
            r = await c.get(path)
            assert r.status_code == 429 and r.json()["code"] == "too-many-subscribers"
        for _ in range(50):
            async with c.stream("GET", path) as third:
                if third.status_code == 200:
                    break
            await asyncio.sleep(0.05)
        assert third.status_code == 200


async def test_an_idle_stream_is_cancelled_and_its_last_event_says_why() -> None:
    async with running(config(idle_ttl=0.4)) as server, client(server) as c:
        idle = (await c.post("/streams", json={"processor": "echo"})).json()["id"]
        busy = (await c.post("/streams", json={"processor": "echo"})).json()["id"]
        for i in range(12):
            await c.post(f"/streams/{busy}/chunks", json=[i])
            await asyncio.sleep(0.1)
        assert (await c.get(f"/streams/{idle}")).json()["status"] == "cancelled"
        assert (await c.get(f"/streams/{busy}")).json()["status"] == "active"
        r = await c.get(f"/streams/{idle}/events")
        last = json.loads([line for line in r.text.splitlines() if line.startswith("data: ")][-1][6:])
        assert last["to"] == "cancelled" and "idle for 0.4 s" in last["message"]


async def test_cors_answers_a_preflight_from_an_allowed_origin_only() -> None:
    cfg = config(cors_origins=("http://app.example",))
    async with running(cfg) as server, httpx.AsyncClient(base_url=server.url) as anon:
        ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
        ok = await anon.options("/streams", headers={"Origin": "http://app.example", **ask})
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "http://app.example"
        bad = await anon.options("/streams", headers={"Origin": "http://evil.example", **ask})
        assert "access-control-allow-origin" not in bad.headers
