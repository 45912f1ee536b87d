"""The MCP stdio source against real servers launched as children: the official Python SDK server
(tests/sources/mcp_stdio_server.py) and npm's ``@modelcontextprotocol/server-everything`` (tests/node)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from contextlib import aclosing
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from streamrt.errors import SourceError
from streamrt.runtime.provider import Provider
from streamrt.sources import open_source, source_effects
from streamrt.sources.base import Chunk, Item
from streamrt.sources.mcp_stdio import McpStdioSource
from streamrt.values import Keyword
from tests.conftest import pid_alive
from tests.sources.provider_helpers import plateau, until

pytest.importorskip("mcp", reason="the stdio source runs on the mcp package")
pytestmark = pytest.mark.timeout(90)

K = Keyword
SERVER = Path(__file__).with_name("mcp_stdio_server.py")


def stdio_uri(tool: str, arguments: dict[str, Any] | None = None, *, command: str = sys.executable) -> str:
    uri = f"mcp+stdio:{command}?args={quote(str(SERVER))}&tool={tool}"
    if arguments is not None:
        uri += "&arguments=" + quote(json.dumps(arguments))
    return uri


async def read_all(source: McpStdioSource, limit: int | None = None) -> list[Item]:
    out: list[Item] = []
    async with source, aclosing(source.items()) as items:
        async for item in items:
            out.append(item)
            if limit is not None and len(out) >= limit:
                break
    return out


def kinds(items: list[Item]) -> list[str]:
    return [i.meta[K("kind")] for i in items]


def server_pids(caplog: pytest.LogCaptureFixture) -> list[int]:
    """The pids the test servers wrote on stderr, as the source logged them."""
    return [
        int(m.group(1))
        for r in caplog.records
        if r.name == "streamrt.source.stderr" and (m := re.search(r": pid (\d+)$", r.getMessage()))
    ]


@pytest.fixture(autouse=True)
def _stderr_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="streamrt.source.stderr")


async def test_progress_logs_and_result_as_the_http_source_gives_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = McpStdioSource(stdio_uri("count", {"steps": 3}))
    items = await read_all(source)

    assert all(isinstance(i, Chunk) for i in items)
    assert kinds(items) == ["progress", "log"] * 3 + ["result"]
    values = [i.value for i in items]
    assert values[0] == {K("progress"): 1, K("total"): 3, K("message"): "step 1"}
    assert values[1] == {K("level"): "info", K("logger"): None, K("data"): "step 1"}
    result = values[-1]
    assert result[K("structuredContent")] == {K("steps"): 3, K("sum"): 6}
    assert result[K("content")][0][K("json")] == {K("steps"): 3, K("sum"): 6}
    assert {i.meta[K("source")] for i in items} == {"mcp"}
    assert {i.meta[K("tool")] for i in items} == {"count"}
    assert len({i.meta[K("request-id")] for i in items}) == 1
    assert items[-1].continuation == {"request_id": items[-1].meta[K("request-id")], "done": True}
    assert all(i.continuation is not None and not i.continuation["done"] for i in items[:-1])
    assert source.health.state == "ended"
    assert source.describe()["protocol_version"] == "2025-11-25"

    [pid] = server_pids(caplog)
    assert not pid_alive(pid), "the server process is stopped when the source closes"


async def test_tool_error_and_other_notifications() -> None:
    [error] = await read_all(McpStdioSource(stdio_uri("fail", {"message": "no luck"})))
    assert kinds([error]) == ["error"]
    assert error.value[K("message")].endswith("no luck")
    assert error.value[K("result")][K("isError")] is True

    items = await read_all(McpStdioSource(stdio_uri("changes")))
    assert kinds(items) == ["notification", "result"]
    assert items[0].value == {K("method"): "notifications/tools/list_changed", K("params"): None}


async def test_server_that_exits_before_the_result_fails_with_its_stderr() -> None:
    source = McpStdioSource(stdio_uri("crash"))
    with pytest.raises(SourceError, match="ended before the result") as caught:
        await read_all(source)
    assert "crashing on purpose" in str(caught.value)
    assert source.health.state == "failed"


async def test_closing_mid_call_stops_the_server(caplog: pytest.LogCaptureFixture) -> None:
    source = McpStdioSource(stdio_uri("count", {"steps": 1000, "delay": 0.05}))
    items = await read_all(source, limit=2)
    assert kinds(items) == ["progress", "log"]
    assert source.health.state == "closed"
    [pid] = server_pids(caplog)
    assert not pid_alive(pid)


async def test_a_command_that_cannot_start_is_a_source_error() -> None:
    source = McpStdioSource("mcp+stdio:/nonexistent/mcp-server?tool=x")
    with pytest.raises(SourceError, match=r"MCP server `/nonexistent/mcp-server`: cannot start it"):
        await read_all(source)


async def test_a_resumed_call_that_had_its_result_reads_nothing() -> None:
    source = McpStdioSource(stdio_uri("count", {"steps": 1}), {"request_id": 2, "done": True})
    assert await read_all(source) == []
    assert source.health.state == "ended"


async def test_list_tools() -> None:
    tools = await McpStdioSource(stdio_uri(""), require_tool=False).list_tools()
    by_name = {t["name"]: t for t in tools}
    assert set(by_name) == {"count", "fail", "changes", "crash"}
    assert by_name["count"]["description"] == "Report progress steps, log each, return the sum."
    assert by_name["count"]["inputSchema"]["required"] == ["steps"]


def test_reading_it_needs_the_process_effect() -> None:
    assert source_effects(stdio_uri("count")) == frozenset({"process"})


# --- through a provider ----------------------------------------------------------------------------------------


class Progress:
    """Records progress steps in order."""

    def __init__(self) -> None:
        self.steps: list[int] = []

    def __call__(self, state: Any, chunk: Any, meta: Any) -> Any:
        if meta[K("kind")] == "progress":
            self.steps.append(chunk[K("progress")])
        return state


async def test_a_paused_stream_stops_reading_and_the_server_blocks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    total, pad = 1000, 8000  # ~8 MB of progress on offer, against a 16-chunk queue and 64 KiB pipes
    sent_file = tmp_path / "sent"
    uri = stdio_uri("count", {"steps": total, "pad": pad, "sent_file": str(sent_file)})

    def sent() -> int:
        text = sent_file.read_text() if sent_file.exists() else ""
        return int(text) if text else 0

    progress = Progress()
    async with Provider() as p:
        sid = p.start(progress, source=open_source(uri), queue_capacity=16)
        p.pause(sid)
        await until(lambda: len(p.record(sid).queue) >= 16, timeout=30, what="a full queue")
        blocked_at = await plateau(sent)
        assert blocked_at < 200, f"the server went on writing while the stream was paused: {blocked_at} steps"
        assert progress.steps == []

        p.resume(sid)
        await asyncio.wait_for(p.wait(sid), 60)
        assert p.record(sid).status.value == "completed"
    assert progress.steps == list(range(1, total + 1))
    [pid] = server_pids(caplog)
    assert not pid_alive(pid)


async def test_a_cancelled_stream_stops_its_server(caplog: pytest.LogCaptureFixture) -> None:
    progress = Progress()
    async with Provider() as p:
        sid = p.start(progress, source=open_source(stdio_uri("count", {"steps": 1000, "delay": 0.02})))
        await until(lambda: len(progress.steps) >= 2, timeout=30, what="two steps")
        p.cancel(sid)
        await asyncio.wait_for(p.wait(sid), 30)
        [pid] = server_pids(caplog)
        await until(lambda: not pid_alive(pid), timeout=10, what="the server to be gone")
        await until(
            lambda: p.inspect(sid)["source"]["health"]["state"] == "closed",
            timeout=10,
            what="a closed source",
        )


# --- npm's server-everything -----------------------------------------------------------------------------------


def everything_uri(modules: Path, tool: str, arguments: dict[str, Any] | None = None) -> str:
    script = modules / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
    uri = f"mcp+stdio:node?args={quote(str(script))}&args=stdio&tool={tool}"
    if arguments is not None:
        uri += "&arguments=" + quote(json.dumps(arguments))
    return uri


async def test_server_everything_long_running_operation_reports_progress(node_modules: Path) -> None:
    uri = everything_uri(node_modules, "trigger-long-running-operation", {"duration": 0.3, "steps": 3})
    items = await read_all(McpStdioSource(uri))
    # it registers some tools once a client is connected, and says so
    assert kinds(items) == ["notification"] + ["progress"] * 3 + ["result"]
    assert items[0].value[K("method")] == "notifications/tools/list_changed"
    progress = items[1:4]
    assert [i.value[K("progress")] for i in progress] == [1, 2, 3]
    assert {i.value[K("total")] for i in progress} == {3}
    text = items[-1].value[K("content")][0][K("text")]
    assert text.startswith("Long running operation completed.") and "Steps: 3" in text


async def test_server_everything_tools_and_errors(node_modules: Path) -> None:
    tools = await McpStdioSource(everything_uri(node_modules, ""), require_tool=False).list_tools()
    names = {t["name"] for t in tools}
    assert {"echo", "trigger-long-running-operation", "get-sum"} <= names

    _, result = await read_all(McpStdioSource(everything_uri(node_modules, "get-sum", {"a": 2, "b": 40})))
    assert result.meta[K("kind")] == "result"
    assert result.value[K("content")][0][K("text")] == "The sum of 2 and 40 is 42."

    _, error = await read_all(McpStdioSource(everything_uri(node_modules, "no-such-tool")))
    assert error.meta[K("kind")] == "error"
    assert "no-such-tool" in error.value[K("message")]
