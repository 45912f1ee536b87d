"""The WebSocket source against a `websockets` server on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from streamrt.errors import SourceAuthError, SourceError
from streamrt.sources import Chunk, ChunkFault, open_source
from streamrt.sources.retry import RetryPolicy
from streamrt.sources.ws import WebSocketSource
from streamrt.values import Keyword
from tests.sources.helpers import drain

FAST = RetryPolicy(max_attempts=5, max_elapsed=10.0, initial=0.01, maximum=0.05)
SEQ = Keyword("seq")

Handler = Callable[[ServerConnection], Awaitable[None]]
Gate = Callable[[ServerConnection, Request], Response | None]


@asynccontextmanager
async def ws_server(handler: Handler, gate: Gate | None = None) -> AsyncIterator[str]:
    async with serve(handler, "127.0.0.1", 0, process_request=gate) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/feed"


async def test_frames_become_chunks_and_a_normal_close_ends_the_stream() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"seq": 1}))
        await ws.send("hello")
        await ws.send(b'{"seq": 3}')
        await ws.send(b"\xff\xfe")
        await ws.close(1000)

    async with ws_server(handler) as url:
        source = WebSocketSource(url, retry=FAST)
        items = await drain(source)
    assert [type(i).__name__ for i in items] == ["Chunk", "Chunk", "Chunk", "ChunkFault"]
    assert [i.value for i in items[:3] if isinstance(i, Chunk)] == [{SEQ: 1}, "hello", {SEQ: 3}]
    assert isinstance(items[3], ChunkFault) and "not UTF-8" in items[3].message
    assert items[0].meta == {Keyword("source"): "ws"} and items[0].continuation is None
    assert source.health.state == "ended" and source.health.reconnects == 0


async def test_abnormal_close_reconnects_and_sends_credentials() -> None:
    connections: list[str | None] = []

    async def handler(ws: ServerConnection) -> None:
        connections.append(ws.request.headers.get("Authorization") if ws.request else None)
        if len(connections) == 1:
            await ws.send(json.dumps({"seq": 1}))
            await ws.send(json.dumps({"seq": 2}))
            await ws.close(1011, "internal error")
            return
        if len(connections) == 2:
            await ws.close(1012, "restarting")
            return
        await ws.send(json.dumps({"seq": 3}))
        await ws.close(1000)

    async with ws_server(handler) as url:
        source = open_source(
            url, env={"STREAMRT_MCP_STREAM_BEARER_TOKEN": "tok"}, options={"retry": {"initial": 0.01}}
        )
        assert isinstance(source, WebSocketSource)
        items = await drain(source)
    assert [i.value[SEQ] for i in items if isinstance(i, Chunk)] == [1, 2, 3]
    assert connections == ["Bearer tok"] * 3
    assert source.health.reconnects == 2


async def test_refused_credentials_fail_at_once_without_the_token() -> None:
    calls = 0

    def gate(connection: ServerConnection, request: Request) -> Response | None:
        nonlocal calls
        calls += 1
        return connection.respond(HTTPStatus.UNAUTHORIZED, "no\n")

    async def handler(ws: ServerConnection) -> None:
        raise AssertionError("the handshake should have been refused")

    async with ws_server(handler, gate) as url:
        source = open_source(url, env={"CCOS_MCP_STREAM_BEARER_TOKEN": "hunter2"})
        with pytest.raises(SourceAuthError, match="HTTP 401") as info:
            await drain(source)  # type: ignore[arg-type]
    assert "hunter2" not in str(info.value)
    assert calls == 1 and source.health.state == "failed"


async def test_503_with_retry_after_then_success() -> None:
    calls = 0

    def gate(connection: ServerConnection, request: Request) -> Response | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            response = connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "busy\n")
            response.headers["Retry-After"] = "0"
            return response
        return None

    async def handler(ws: ServerConnection) -> None:
        await ws.send("ok")
        await ws.close(1000)

    async with ws_server(handler, gate) as url:
        source = WebSocketSource(url, retry=FAST)
        items = await drain(source)
    assert [i.value for i in items if isinstance(i, Chunk)] == ["ok"]
    assert calls == 2 and source.health.reconnects == 1


async def test_other_refusals_are_permanent() -> None:
    def gate(connection: ServerConnection, request: Request) -> Response | None:
        return connection.respond(HTTPStatus.NOT_FOUND, "nope\n")

    async def handler(ws: ServerConnection) -> None:
        raise AssertionError("unreachable")

    async with ws_server(handler, gate) as url:
        with pytest.raises(SourceError, match="HTTP 404"):
            await drain(WebSocketSource(url, retry=FAST))
