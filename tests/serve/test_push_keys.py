"""Pushes by ``Idempotency-Key`` are remembered in the durable event log (SQLite, PostgreSQL), so a retry applies
once across a restart of the server, and the keys leave the log with its retention (``keep_seconds``)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from websockets.asyncio.client import connect

from streamrt.serve import SqlEventLog
from tests.serve.conftest import TOKENS, client, config, running


async def test_a_keyed_push_retried_after_a_restart_applies_once(durable_store: str) -> None:
    cfg = config(store=durable_store)
    key = {"Idempotency-Key": "batch-7"}
    async with running(cfg) as server, client(server) as c:
        assert (await c.post("/streams", json={"processor": "echo", "id": "k"})).status_code == 201
        r = await c.post("/streams/k/chunks", json=[1, 2, 3, 4], headers=key)
        assert r.json() == {"accepted": 4, "total": 4, "replayed": False}
    async with running(cfg) as server, client(server) as c:
        r = await c.post("/streams/k/chunks", json=[1, 2, 3, 4], headers=key)
        assert r.status_code == 202 and r.json() == {"accepted": 4, "total": 4, "replayed": True}
        r = await c.post("/streams/k/chunks", json=[1, 2], headers=key)  # another body under the same key
        assert r.status_code == 202 and r.json() == {"accepted": 4, "total": 4, "replayed": True}
        await c.post("/streams/k/directives", json={"action": "end"})
        for _ in range(100):
            info = (await c.get("/streams/k")).json()
            if info["status"] == "completed":
                break
            await asyncio.sleep(0.05)
        assert info["status"] == "completed" and info["state"] == {"n": 4}
        assert (await c.delete("/streams/k")).status_code == 204
        assert await server.service.log.push_record("k", "batch-7") is None  # forgotten with the stream


async def test_remembered_keys_leave_the_log_with_its_retention(durable_store: str) -> None:
    log = SqlEventLog(durable_store, keep_seconds=0.5)
    await log.open()
    try:
        await log.record_push("s", "old", 10, 3)
        assert await log.push_record("s", "old") == (10, 3)
        await asyncio.sleep(0.6)
        await log.record_push("s", "new", 13, 1)
        log.append("s", "status", "{}")  # a write: the writer prunes by age after it
        await log.flush()
        assert await log.push_record("s", "old") is None
        assert await log.push_record("s", "new") == (13, 1)
    finally:
        await log.close()


async def test_a_websocket_push_takes_a_key_as_the_api_does_and_refuses_a_bad_one(tmp_path: Path) -> None:
    async with running(config(store=str(tmp_path / "ws.db"))) as server, client(server) as c:
        assert (await c.post("/streams", json={"processor": "echo", "id": "w"})).status_code == 201
        url = server.url.replace("http", "ws", 1) + "/streams/w/ws?after=1000"
        async with connect(url, additional_headers={"Authorization": f"Bearer {TOKENS['alice']}"}) as ws:
            answers = []
            for message in (
                {"chunks": [1], "key": {"not": "a string"}},
                {"chunks": [1], "key": "k" * 201},
                {"chunks": [1, 2], "key": "w-1"},
                {"chunks": [1, 2], "key": "w-1"},
            ):
                await ws.send(json.dumps(message))
                answers.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        assert [a.get("problem", {}).get("code") for a in answers[:2]] == ["bad-request", "bad-request"]
        assert answers[2:] == [
            {"ack": {"accepted": 2, "total": 2, "replayed": False}},
            {"ack": {"accepted": 2, "total": 2, "replayed": True}},
        ]
        assert await server.service.log.push_record("w", "w-1") == (0, 2)
