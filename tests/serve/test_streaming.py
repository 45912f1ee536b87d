"""GET /events (all of a client's streams, merged, resumable with one id) and the WebSocket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.serve.conftest import TOKENS, client, config, running


async def _merged(c: httpx.AsyncClient, after: int, until: int) -> list[tuple[int, str, dict[str, Any]]]:
    seen: list[tuple[int, str, dict[str, Any]]] = []
    async with aconnect_sse(c, "GET", "/events", headers={"Last-Event-ID": str(after)}) as sse:
        async for event in sse.aiter_sse():
            if event.data:
                seen.append((int(event.id), event.event, json.loads(event.data)))
                if len(seen) == until:
                    break
    return seen


async def test_merged_events_follow_every_stream_of_the_caller_in_log_order(durable_store: str) -> None:
    cfg = config(store=durable_store)
    async with running(cfg) as server, client(server, "alice") as alice, client(server, "bob") as bob:
        a = (await alice.post("/streams", json={"processor": "echo", "id": "a"})).json()["id"]
        b = (await alice.post("/streams", json={"processor": "echo", "id": "b"})).json()["id"]
        other = (await bob.post("/streams", json={"processor": "echo", "id": "bobs"})).json()["id"]
        for i in range(5):
            await alice.post(f"/streams/{a}/chunks", json=[{"a": i}])
            await alice.post(f"/streams/{b}/chunks", json=[{"b": i}])
            await bob.post(f"/streams/{other}/chunks", json=[{"x": i}])
        await asyncio.sleep(0.2)
        seen = await _merged(alice, 0, 10)
        ids = [e[0] for e in seen]
        assert ids == sorted(ids) and len(set(ids)) == 10
        assert [e[2]["stream"] for e in seen] == ["a", "b"] * 5
        assert [e[2]["value"] for e in seen] == [x for i in range(5) for x in ({"a": i}, {"b": i})]
        resumed = await _merged(alice, ids[5], 4)
        assert [e[0] for e in resumed] == ids[6:]
        last = ids[-1]
    async with running(config(store=durable_store)) as server, client(server, "alice") as alice:
        waiting = asyncio.create_task(_merged(alice, last, 1))
        await asyncio.sleep(0.2)
        await alice.post("/streams/b/chunks", json=[{"b": "after restart"}])
        [(gid, kind, data)] = await asyncio.wait_for(waiting, 10)
        assert (
            gid > last
            and kind == "output"
            and data["stream"] == "b"
            and data["value"] == {"b": "after restart"}
        )


async def test_a_websocket_carries_events_out_and_chunks_and_directives_in() -> None:
    async with running(config()) as server, client(server) as c:
        sid = (await c.post("/streams", json={"processor": "echo"})).json()["id"]
        url = server.url.replace("http", "ws", 1) + f"/streams/{sid}/ws"
        auth = {"Authorization": f"Bearer {TOKENS['alice']}"}
        async with connect(url, additional_headers=auth) as ws:
            await ws.send(json.dumps({"chunks": [{"i": 1}, {"i": 2}]}))
            await ws.send(json.dumps({"chunk": {"i": 3}}))
            await ws.send(json.dumps({"action": "end"}))
            await ws.send("not json")
            got: list[dict[str, Any]] = []
            while not (got and got[-1].get("event") == "status"):
                got.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        acks = [m["ack"] for m in got if "ack" in m]
        assert acks == [
            {"accepted": 2, "total": 2, "replayed": False},
            {"accepted": 1, "total": 1, "replayed": False},
        ]
        assert {"done": "end"} in got
        assert any(m.get("problem", {}).get("code") == "bad-request" for m in got)
        events = [m for m in got if "event" in m]
        assert [(m["id"], m["data"].get("value")) for m in events[:3]] == [
            (1, {"i": 1}),
            (2, {"i": 2}),
            (3, {"i": 3}),
        ]
        assert events[-1]["data"]["to"] == "completed"


async def test_a_websocket_without_a_token_or_for_another_clients_stream_is_refused() -> None:
    async with running(config()) as server, client(server, "alice") as c:
        sid = (await c.post("/streams", json={"processor": "echo"})).json()["id"]
        url = server.url.replace("http", "ws", 1) + f"/streams/{sid}/ws"
        for headers in ({}, {"Authorization": f"Bearer {TOKENS['bob']}"}):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, additional_headers=headers):
                    pass
            assert refused.value.response.status_code == 403
