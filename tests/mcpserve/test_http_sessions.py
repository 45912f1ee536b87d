"""The MCP face keeps only open sessions: one a client closes (DELETE) or leaves idle past the timeout is released,
with its messages in the event log, on real uvicorn against the official SDK's client and session manager."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.mcpserve.peers import served
from tests.mcpserve.test_http_server import call, session

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]

_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


def _mcp_rows(store: str) -> int:
    with sqlite3.connect(store) as db:
        (count,) = db.execute("SELECT count(*) FROM streamrt_events WHERE stream_id LIKE 'mcp/%'").fetchone()
    return int(count)


async def _until(test: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_session_the_client_closes_is_released_with_its_logged_messages(tmp_path: Path) -> None:
    store = str(tmp_path / "serve.db")
    async with served(tmp_path, store=store) as (server, _):
        endpoint = server.app.state.mcp
        log = server.service.log
        before = log.stats()["streams"]
        async with session(server.port, "alice-secret") as alice:
            await call(alice, "stream.start", processor="running-total", stream_id="a1")
            await call(alice, "stream.push", stream_id="a1", chunks=[{"n": 1}, {"n": 2, "last": True}])
            assert [
                o["value"]["total"] for o in (await call(alice, "stream.watch", stream_id="a1"))["outputs"]
            ] == [
                1,
                3,
            ]
            [session_id] = endpoint.sessions
            await log.flush()
            assert _mcp_rows(store) > 0 and log.stats()["streams"] > before + 1
        # the SDK client ends its session with DELETE on the way out: nothing of it is left here
        assert session_id not in endpoint.sessions
        await _until(lambda: log.stats()["streams"] == before + 1)  # released once the DELETE is answered
        await log.flush()
        assert _mcp_rows(store) == 0 and log.known("a1")  # a1's own events stay
        async with httpx2.AsyncClient(headers={"Authorization": "Bearer alice-secret", **_ACCEPT}) as http:
            gone = await http.post(
                f"{server.url}/mcp",
                json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                headers={"mcp-session-id": session_id, "mcp-protocol-version": "2025-06-18"},
            )
        assert gone.status_code == 404


async def test_an_idle_session_is_closed_by_the_timeout_and_released(tmp_path: Path) -> None:
    async with served(tmp_path, mcp_session_idle=0.5) as (server, _):
        endpoint = server.app.state.mcp
        headers = {"Authorization": "Bearer alice-secret", **_ACCEPT}
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            opened = await http.post(f"{server.url}/mcp", json=_INITIALIZE)
            assert opened.status_code == 200, opened.text
            session_id = opened.headers["mcp-session-id"]
            ours = {"mcp-session-id": session_id, "mcp-protocol-version": "2025-06-18"}
            done = await http.post(
                f"{server.url}/mcp",
                json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                headers=ours,
            )
            assert done.status_code == 202 and set(endpoint.sessions) == {session_id}
            # bob cannot use alice's session, open or not
            bobs = {**ours, "Authorization": "Bearer bob-secret"}
            assert (
                await http.post(
                    f"{server.url}/mcp", json={"jsonrpc": "2.0", "id": 3, "method": "ping"}, headers=bobs
                )
            ).status_code == 404
            await _until(lambda: not endpoint.sessions)
            late = await http.post(
                f"{server.url}/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers=ours
            )
            assert late.status_code == 404
