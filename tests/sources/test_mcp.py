"""The MCP source against the official MCP Python SDK server (tests/sources/mcp_server.py), run as a subprocess."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

import pytest

from streamrt.errors import SourceAuthError
from streamrt.sources.base import Chunk, Item
from streamrt.sources.mcp import McpSource
from streamrt.sources.retry import RetryPolicy
from streamrt.values import Keyword
from tests.sources.conftest import ServerProcess

pytest.importorskip("mcp", reason="the MCP SDK server needs the mcp package (test extra)")

K = Keyword
FAST = RetryPolicy(max_attempts=5, max_elapsed=10.0, initial=0.01, maximum=0.1)


async def collect(source: McpSource, limit: int | None = None) -> list[Item]:
    """Items of the source (at most ``limit``), closing the iterator but not the source."""
    out: list[Item] = []
    async with aclosing(source.items()) as items:
        async for item in items:
            out.append(item)
            if limit is not None and len(out) >= limit:
                break
    return out


async def run(uri: str, **kwargs: Any) -> tuple[list[Chunk], McpSource]:
    source = McpSource(uri, retry=FAST, **kwargs)
    async with source:
        items = await collect(source)
    assert all(isinstance(i, Chunk) for i in items), items
    return [i for i in items if isinstance(i, Chunk)], source


def of_kind(chunks: list[Chunk], kind: str) -> list[Any]:
    return [c.value for c in chunks if c.meta[K("kind")] == kind]


def progress_steps(chunks: list[Chunk]) -> list[Any]:
    return [v[K("progress")] for v in of_kind(chunks, "progress")]


async def test_progress_logs_and_result(mcp_server: Callable[..., ServerProcess]) -> None:
    server = mcp_server()
    chunks, source = await run(server.uri("count", {"steps": 5}))

    kinds = [c.meta[K("kind")] for c in chunks]
    assert kinds == ["progress", "log"] * 5 + ["result"]
    assert of_kind(chunks, "progress") == [
        {K("progress"): i, K("total"): 5, K("message"): f"step {i}"} for i in range(1, 6)
    ]
    assert [v[K("data")] for v in of_kind(chunks, "log")] == [f"step {i}" for i in range(1, 6)]
    assert {v[K("level")] for v in of_kind(chunks, "log")} == {"info"}
    [result] = of_kind(chunks, "result")
    assert result[K("structuredContent")] == {K("steps"): 5, K("sum"): 15}
    assert result[K("content")][0][K("json")] == {K("steps"): 5, K("sum"): 15}
    assert result[K("isError")] is False

    assert {c.meta[K("source")] for c in chunks} == {"mcp"}
    assert len({c.meta[K("request-id")] for c in chunks}) == 1
    event_ids = [c.meta[K("id")] for c in chunks]
    assert len(set(event_ids)) == len(event_ids)
    final = chunks[-1].continuation
    assert final is not None and final["done"] is True and final["last_event_id"] == event_ids[-1]
    assert all(c.continuation is not None and not c.continuation["done"] for c in chunks[:-1])
    assert final["protocol_version"] == "2025-11-25"
    assert source.health.state == "ended" and source.health.reconnects == 0


SLOW_STORE = ("--store-latency-ms", "10")
"""An event store that takes 10 ms a write, like one over the network: without the test server's follow-the-stream
replay, the SDK lost an event on most resumes (see MemoryEventStore in mcp_server.py)."""


@pytest.mark.parametrize("store", [(), SLOW_STORE], ids=["memory-store", "slow-store"])
async def test_dropped_stream_resumes_every_step_once_in_order(
    mcp_server: Callable[..., ServerProcess], store: tuple[str, ...]
) -> None:
    server = mcp_server("--drop-every", "3", "--retry-ms", "5", *store)
    chunks, source = await run(server.uri("count", {"steps": 12, "delay": 0.04}))

    assert progress_steps(chunks) == list(range(1, 13))
    assert [v[K("data")] for v in of_kind(chunks, "log")] == [f"step {i}" for i in range(1, 13)]
    assert of_kind(chunks, "result")[0][K("structuredContent")][K("sum")] == 78
    assert chunks[-1].meta[K("kind")] == "result"
    event_ids = [c.meta[K("id")] for c in chunks]
    assert len(set(event_ids)) == len(event_ids)
    # the server drops the stream after steps 3, 6 and 9; a drop while the client is away is a no-op
    assert 1 <= source.health.reconnects <= 3
    assert source.health.state == "ended"
    assert source.health.last_error is not None and "ended before the result" in source.health.last_error


@pytest.mark.parametrize("store", [(), SLOW_STORE], ids=["memory-store", "slow-store"])
async def test_resume_from_continuation_picks_up_where_it_stopped(
    mcp_server: Callable[..., ServerProcess], store: tuple[str, ...]
) -> None:
    server = mcp_server(*store)
    uri = server.uri("count", {"steps": 8, "delay": 0.02})
    first = McpSource(uri, retry=FAST)
    assert first.delete_on_close is None  # by default a call that is not over keeps its session on close
    async with first:
        head = await collect(first, limit=6)  # progress and log for steps 1..3
    assert isinstance(head[-1], Chunk)
    cont = head[-1].continuation
    assert cont is not None and cont["session_id"] and cont["last_event_id"] and not cont["done"]

    rest, second = await run(uri, continuation=cont)

    chunks = [c for c in head if isinstance(c, Chunk)] + rest
    assert progress_steps(chunks) == list(range(1, 9))
    assert [v[K("data")] for v in of_kind(chunks, "log")] == [f"step {i}" for i in range(1, 9)]
    assert {c.meta[K("request-id")] for c in chunks} == {cont["request_id"]}
    assert rest[-1].meta[K("kind")] == "result"
    assert second.health.reconnects == 0


async def test_forgotten_session_reinitializes_and_calls_again(
    mcp_server: Callable[..., ServerProcess],
) -> None:
    server = mcp_server()
    uri = server.uri("count", {"steps": 4})
    first = McpSource(uri, retry=FAST)
    first.delete_on_close = True
    async with first:  # closing sends DELETE, so the server forgets the session
        head = await collect(first, limit=2)
    cont = head[-1].continuation
    assert cont is not None and cont["session_id"]

    chunks, second = await run(uri, continuation=cont)

    assert progress_steps(chunks) == [1, 2, 3, 4], "a new call starts the tool over"
    assert chunks[-1].meta[K("kind")] == "result"
    assert {c.meta[K("request-id")] for c in chunks} != {cont["request_id"]}
    assert chunks[-1].continuation is not None
    assert chunks[-1].continuation["session_id"] not in (None, cont["session_id"])
    assert second.health.reconnects == 1
    assert second.health.last_error is not None and "no longer knows our session" in second.health.last_error


async def test_tool_error_becomes_an_error_chunk(mcp_server: Callable[..., ServerProcess]) -> None:
    chunks, source = await run(mcp_server().uri("fail", {"message": "the sky fell"}))
    assert [c.meta[K("kind")] for c in chunks] == ["error"]
    error = chunks[0].value
    assert "the sky fell" in error[K("message")]
    assert error[K("result")][K("isError")] is True
    assert chunks[0].continuation is not None and chunks[0].continuation["done"] is True
    assert source.health.state == "ended"


async def test_unknown_tool_is_an_error_chunk(mcp_server: Callable[..., ServerProcess]) -> None:
    chunks, _ = await run(mcp_server().uri("no-such-tool"))
    assert [c.meta[K("kind")] for c in chunks] == ["error"]
    assert "no-such-tool" in chunks[0].value[K("message")]


async def test_plain_text_result_keeps_text_without_json(mcp_server: Callable[..., ServerProcess]) -> None:
    chunks, _ = await run(mcp_server().uri("echo", {"text": "hello, world"}))
    [result] = of_kind(chunks, "result")
    [content] = result[K("content")]
    assert content[K("text")] == "hello, world"
    assert K("json") not in content


async def test_json_response_mode(mcp_server: Callable[..., ServerProcess]) -> None:
    server = mcp_server("--json-response")
    chunks, source = await run(server.uri("count", {"steps": 3}))
    # A JSON body carries only the reply: the SDK drops the call's notifications in this mode.
    assert [c.meta[K("kind")] for c in chunks] == ["result"]
    assert chunks[0].value[K("structuredContent")] == {K("steps"): 3, K("sum"): 6}
    assert chunks[0].continuation is not None and chunks[0].continuation["last_event_id"] is None
    assert source.health.state == "ended"


async def test_bearer_token_server_refuses_a_bad_token(mcp_server: Callable[..., ServerProcess]) -> None:
    server = mcp_server("--token", "right-token-0123456789")
    bad = "wrong-token-9876543210"
    source = McpSource(
        server.uri("echo", {"text": "hi"}), headers={"Authorization": f"Bearer {bad}"}, retry=FAST
    )
    async with source:
        with pytest.raises(SourceAuthError) as caught:
            await collect(source)
    assert "401" in str(caught.value)
    assert bad not in str(caught.value) and bad not in repr(caught.value)
    assert source.health.state == "failed"
    assert source.health.last_error is not None and bad not in source.health.last_error

    good = {"Authorization": "Bearer right-token-0123456789"}
    chunks, _ = await run(server.uri("echo", {"text": "hi"}), headers=good)
    assert of_kind(chunks, "result")[0][K("content")][0][K("text")] == "hi"


async def test_missing_token_says_no_credentials_were_sent(mcp_server: Callable[..., ServerProcess]) -> None:
    server = mcp_server("--token", "right-token-0123456789")
    source = McpSource(server.uri("echo", {"text": "hi"}), retry=FAST)
    async with source:
        with pytest.raises(SourceAuthError, match="no credentials were sent"):
            await collect(source)


async def test_describe_shows_the_call_but_not_the_session(mcp_server: Callable[..., ServerProcess]) -> None:
    chunks, source = await run(mcp_server().uri("echo", {"text": "x"}))
    info = source.describe()
    session_id = chunks[-1].continuation["session_id"] if chunks[-1].continuation else None
    assert session_id and session_id not in json.dumps(info)
    assert info["tool"] == "echo" and info["kind"] == "mcp" and info["done"] is True
    assert info["health"]["state"] == "ended"
