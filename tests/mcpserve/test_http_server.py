"""``streamrt serve --mcp``: the MCP face over Streamable HTTP at /mcp next to the HTTP API, on real uvicorn, driven
by the official Python SDK's client: every tool, the API's tokens and tenancy, and a ``stream.watch`` whose
connection is cut mid-call and resumed with Last-Event-ID (also with an event store that is slow on purpose)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from streamrt.sources import open_source
from streamrt.sources.mcp_tools import list_tools
from streamrt.values import Keyword as K
from tests.mcpserve.peers import served

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]


@asynccontextmanager
async def session(port: int, token: str) -> AsyncIterator[ClientSession]:
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30, read=60)
    )
    async with (
        http,
        streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as s,
    ):
        await s.initialize()
        yield s


async def call(s: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await s.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content  # type: ignore[no-any-return]


async def test_every_tool_over_streamable_http_with_the_apis_tenancy(tmp_path: Path) -> None:
    async with served(tmp_path) as (server, _), session(server.port, "alice-secret") as alice:
        tools = {t.name for t in (await alice.list_tools()).tools}
        assert len(tools) == 8 and "stream.watch" in tools
        started = await call(alice, "stream.start", processor="running-total", stream_id="a1")
        assert started["status"] == "active"
        pushed = await call(alice, "stream.push", stream_id="a1", chunks=[{"n": 1}, {"n": 2}])
        assert pushed["accepted"] == 2
        assert (await call(alice, "stream.pause", stream_id="a1"))["status"] == "paused"
        assert (await call(alice, "stream.resume", stream_id="a1"))["status"] == "active"
        await call(alice, "stream.push", stream_id="a1", chunks=[{"n": 3, "last": True}])
        watched = await call(alice, "stream.watch", stream_id="a1")
        assert [o["value"]["total"] for o in watched["outputs"]] == [1, 3, 6]
        assert (await call(alice, "stream.inspect", stream_id="a1"))["state"] == {"total": 6}
        await call(alice, "stream.start", processor="running-total", stream_id="a2")
        assert (await call(alice, "stream.cancel", stream_id="a2"))["status"] == "cancelled"
        assert {s["id"] for s in (await call(alice, "stream.list"))["streams"]} == {"a1", "a2"}
        [resource] = [r for r in (await alice.list_resources()).resources if r.uri.endswith("/a1")]
        read = await alice.read_resource(resource.uri)
        assert json.loads(read.contents[0].text)["state"] == {"total": 6}  # type: ignore[union-attr]

        # the HTTP API sees the same stream for the same client
        api = httpx2.AsyncClient(headers={"Authorization": "Bearer alice-secret"})
        async with api:
            doc = (await api.get(f"{server.url}/streams/a1")).json()
        assert doc["state"] == {"total": 6} and doc["status"] == "completed"

        # a client may not make the server launch a program (mcp+stdio:) nor read its files, over MCP or the API
        launch = await alice.call_tool(
            "stream.start", {"processor": "running-total", "source": "mcp+stdio:/bin/true?tool=x"}
        )
        assert launch.is_error and launch.content[0].text.startswith("effect-denied")  # type: ignore[union-attr]
        assert ":process" in launch.content[0].text  # type: ignore[union-attr]
        api = httpx2.AsyncClient(headers={"Authorization": "Bearer alice-secret"})
        async with api:
            refused = await api.post(
                f"{server.url}/streams",
                json={"processor": "running-total", "source": "mcp+stdio:/bin/true?tool=x"},
            )
        assert refused.status_code == 403 and refused.json()["code"] == "effect-denied"

        async with session(server.port, "bob-secret") as bob:
            assert (await call(bob, "stream.list"))["streams"] == []
            result = await bob.call_tool("stream.inspect", {"stream_id": "a1"})
            assert result.is_error and result.content[0].text.startswith("unknown-stream")  # type: ignore[union-attr]

        # no token, a wrong token: the API's 401
        async with httpx2.AsyncClient() as anonymous:
            refused = await anonymous.post(
                f"{server.url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}
            )
        assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"


@pytest.mark.parametrize("slow", [False, True], ids=["store", "slow-store"])
async def test_a_watch_cut_off_mid_call_resumes_with_last_event_id(
    tmp_path: Path, slow: bool, durable_store: str
) -> None:
    """On SQLite and PostgreSQL, with writes as they come and with each write 10 ms late."""
    async with (
        served(tmp_path, slow=slow, store=durable_store) as (_, proxy),
        session(proxy.port, "alice-secret") as alice,
    ):
        await call(alice, "stream.start", processor="running-total", stream_id="w")
        await call(alice, "stream.push", stream_id="w", chunks=[{"n": 1}])
        progress: list[dict[str, Any]] = []

        async def on_progress(n: float, total: float | None, message: str | None) -> None:
            progress.append(json.loads(message or ""))

        watch = asyncio.create_task(
            alice.call_tool("stream.watch", {"stream_id": "w"}, progress_callback=on_progress)
        )
        while not progress:
            await asyncio.sleep(0.01)
        proxy.cut()  # the watch's event stream (and every other connection) breaks
        for n in range(2, 21):  # outputs made while the client reconnects, and after
            await call(alice, "stream.push", stream_id="w", chunks=[{"n": n}])
        await call(alice, "stream.push", stream_id="w", chunks=[{"n": 0, "last": True}])
        result = await asyncio.wait_for(watch, 60)

    assert proxy.resumes >= 1, "the client resumed the watch's event stream"
    assert not result.is_error, result.content
    outputs = result.structured_content["outputs"]  # type: ignore[index]
    expected = [n * (n + 1) // 2 for n in range(1, 21)] + [210]
    assert [o["value"]["total"] for o in outputs] == expected
    assert [p["value"]["total"] for p in progress] == expected, "every output once, in order, across the cut"


async def test_streamrt_reads_a_watch_of_another_streamrt_as_its_source(tmp_path: Path) -> None:
    """Both ends of MCP in streamrt: the mcp+http source calls stream.watch of a served stream (with a token)."""
    env = {"STREAMRT_MCP_STREAM_BEARER_TOKEN": "alice-secret"}
    async with served(tmp_path) as (server, _):
        tools = await list_tools(f"mcp+{server.url}/mcp", env=env)
        assert "stream.watch" in {t["name"] for t in tools}
        async with session(server.port, "alice-secret") as alice:
            await call(alice, "stream.start", processor="running-total", stream_id="up")
            await call(
                alice, "stream.push", stream_id="up", chunks=[{"n": 1}, {"n": 2}, {"n": 3, "last": True}]
            )
        arguments = quote(json.dumps({"stream_id": "up"}))
        source = open_source(f"mcp+{server.url}/mcp?tool=stream.watch&arguments={arguments}", env=env)
        async with source, aclosing(source.items()) as items:
            chunks = [item async for item in items]
    kinds = [c.meta[K("kind")] for c in chunks]
    assert kinds == ["progress"] * 3 + ["result"]
    totals = [json.loads(c.value[K("message")])["value"]["total"] for c in chunks[:3]]
    assert totals == [1, 3, 6]
    result = chunks[-1].value[K("structuredContent")]
    assert result[K("status")] == "completed" and len(result[K("outputs")]) == 3
