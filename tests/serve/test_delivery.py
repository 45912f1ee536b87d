"""Every subscriber gets every event exactly once, in order, though its connection is dropped every 100 events and
the server restarts in the middle (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from tests.serve.conftest import TOKENS, config, running

OUTPUTS = 2_000
SUBSCRIBERS = 20
PER_CONNECTION = 100


class Subscriber:
    """Reads one stream's events, reconnecting with Last-Event-ID whenever the connection ends or fails."""

    def __init__(self, base: str, stream_id: str) -> None:
        self.base = base
        self.stream_id = stream_id
        self.events: list[tuple[int, str, Any]] = []
        self.connections = 0

    @property
    def last_id(self) -> int:
        return self.events[-1][0] if self.events else 0

    def done(self) -> bool:
        return (
            bool(self.events) and self.events[-1][1] == "status" and self.events[-1][2]["to"] == "completed"
        )

    async def run(self) -> None:
        headers = {"Authorization": f"Bearer {TOKENS['alice']}"}
        async with httpx.AsyncClient(base_url=self.base, headers=headers, timeout=30) as http:
            await self._follow(http)

    async def _follow(self, http: httpx.AsyncClient) -> None:
        while not self.done():
            try:
                last = {"Last-Event-ID": str(self.last_id)} if self.events else {}
                path = f"/streams/{self.stream_id}/events"
                async with aconnect_sse(http, "GET", path, headers=last) as sse:
                    if sse.response.status_code == 204:
                        return
                    sse.response.raise_for_status()
                    self.connections += 1
                    async for event in sse.aiter_sse():
                        if not event.data:
                            continue  # the retry: hint
                        self.events.append((int(event.id), event.event, json.loads(event.data)))
            except (httpx.TransportError, httpx.HTTPStatusError):
                await asyncio.sleep(0.05)  # the server is restarting (on the same port)


async def _push_all(base: str, sid: str, start: int, stop: int) -> None:
    headers = {"Authorization": f"Bearer {TOKENS['alice']}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        for first in range(start, stop, 100):
            body = [{"i": i} for i in range(first, min(first + 100, stop))]
            r = await http.post(f"/streams/{sid}/chunks", json=body, headers={"Idempotency-Key": f"b{first}"})
            assert r.status_code == 202, r.text


def _check(subscribers: list[Subscriber]) -> None:
    for sub in subscribers:
        ids = [e[0] for e in sub.events]
        assert ids == list(range(1, len(ids) + 1)), "ids must increase by one, none missing or repeated"
        outputs = [e[2]["value"]["i"] for e in sub.events if e[1] == "output"]
        assert outputs == list(range(OUTPUTS))
        assert [e[2]["seq"] for e in sub.events if e[1] == "output"] == list(range(1, OUTPUTS + 1))
        assert sub.done()
        assert sub.connections >= len(ids) // PER_CONNECTION


async def _deliver(store: str, *, restart: bool) -> None:
    cfg = config(store=store, events_per_connection=PER_CONNECTION)
    server_cm = running(cfg)
    server = await server_cm.__aenter__()
    port = server.port
    try:
        headers = {"Authorization": f"Bearer {TOKENS['alice']}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
            r = await http.post("/streams", json={"processor": "echo", "id": "many"})
            assert r.status_code == 201, r.text
        subs = [Subscriber(server.url, "many") for _ in range(SUBSCRIBERS)]
        tasks = [asyncio.create_task(s.run()) for s in subs]
        await _push_all(server.url, "many", 0, OUTPUTS // 2)
        if restart:
            await server_cm.__aexit__(None, None, None)
            server_cm = running(cfg, port=port)
            server = await server_cm.__aenter__()
        await _push_all(server.url, "many", OUTPUTS // 2, OUTPUTS)
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
            r = await http.post("/streams/many/directives", json={"action": "end"})
            assert r.status_code == 200, r.text
        await asyncio.wait_for(asyncio.gather(*tasks), 90)
    finally:
        await server_cm.__aexit__(None, None, None)
    _check(subs)


async def test_every_subscriber_gets_every_event_once_in_order() -> None:
    await _deliver("memory:", restart=False)


async def test_the_same_across_a_server_restart(durable_store: str) -> None:
    await _deliver(durable_store, restart=True)
