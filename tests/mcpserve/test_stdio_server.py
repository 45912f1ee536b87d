"""``streamrt mcp`` over stdio, driven by the official MCP Python SDK's ClientSession: every tool, the resources and
their subscriptions, the refusals, and a store that keeps streams across a restart."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from streamrt.cli import main

pytestmark = [
    pytest.mark.timeout(120),
    # resources/subscribe is the handshake protocol's way (2026-07-28 replaces it with subscriptions/listen)
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]

SCRIPT = Path(__file__).with_name("totals.rtfs")
TOOL_NAMES = {
    "stream.start",
    "stream.push",
    "stream.inspect",
    "stream.list",
    "stream.pause",
    "stream.resume",
    "stream.cancel",
    "stream.watch",
}


class Client:
    """A ClientSession on a launched ``streamrt mcp``, with what the server sent on its own."""

    def __init__(self, session: ClientSession, notifications: list[Any]) -> None:
        self.session = session
        self.notifications = notifications

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self.session.call_tool(tool, arguments)
        assert not result.is_error, result.content
        structured: dict[str, Any] = result.structured_content
        assert json.loads(result.content[0].text) == structured  # type: ignore[union-attr]
        return structured

    async def refused(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self.session.call_tool(tool, arguments)
        assert result.is_error and result.structured_content is None
        assert result.meta is not None
        error: dict[str, Any] = result.meta["dev.streamrt/error"]
        assert result.content[0].text == f"{error['code']}: {error['message']}"  # type: ignore[union-attr]
        return error


@asynccontextmanager
async def launched(*flags: str) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "streamrt", "mcp", str(SCRIPT), *flags]
    )
    notifications: list[Any] = []

    async def on_message(message: Any) -> None:
        if not isinstance(message, Exception):
            notifications.append(message)

    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write, message_handler=on_message) as s,
    ):
        await s.initialize()
        yield Client(s, notifications)


async def test_every_tool_over_stdio() -> None:
    async with launched() as client:
        session = client.session
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == TOOL_NAMES
        assert all(t.input_schema["type"] == "object" and t.output_schema for t in tools.values())
        assert tools["stream.push"].input_schema["required"] == ["stream_id", "chunks"]

        started = await client.call("stream.start", processor="running-total", stream_id="t1")
        assert (started["id"], started["status"], started["processor"]) == ("t1", "active", "running-total")
        assert started["resource"] == "streamrt://streams/t1"

        pushed = await client.call("stream.push", stream_id="t1", chunks=[{"n": 1}, {"n": 2}])
        assert (pushed["accepted"], pushed["total"], pushed["replayed"]) == (2, 2, False)

        # watch from the start while more comes: every output as a progress message, all in the result
        progress: list[tuple[float, str | None]] = []

        async def on_progress(n: float, total: float | None, message: str | None) -> None:
            progress.append((n, message))

        watch = asyncio.create_task(
            session.call_tool("stream.watch", {"stream_id": "t1"}, progress_callback=on_progress)
        )
        paused = await client.call("stream.pause", stream_id="t1")
        assert paused["status"] == "paused"
        await client.call("stream.push", stream_id="t1", chunks=[{"n": 3}])
        inspected = await client.call("stream.inspect", stream_id="t1", include_queue=True)
        assert inspected["status"] == "paused" and inspected["queue_depth"] == 1
        assert [q["chunk"] for q in inspected["queue"]] == [{"n": 3}]
        resumed = await client.call("stream.resume", stream_id="t1")
        assert resumed["status"] == "active"
        await client.call("stream.push", stream_id="t1", chunks=[{"n": 4, "last": True}])

        watched = (await asyncio.wait_for(watch, 30)).structured_content
        totals = [o["value"]["total"] for o in watched["outputs"]]
        assert totals == [1, 3, 6, 10]
        assert [o["seq"] for o in watched["outputs"]] == [1, 2, 3, 4]
        assert watched["status"] == "completed" and watched["last_event_id"] > 0
        assert [n for n, _ in progress] == [1, 2, 3, 4]
        assert [json.loads(m or "")["value"]["total"] for _, m in progress] == totals

        event_ids = [o["event_id"] for o in watched["outputs"]]
        assert [json.loads(m or "")["event_id"] for _, m in progress] == event_ids

        # a watch that was cut off goes on from the last event id it got: exactly the rest
        rest = await client.call("stream.watch", stream_id="t1", after=event_ids[1])
        assert [o["value"]["total"] for o in rest["outputs"]] == [6, 10]
        again = await client.call("stream.watch", stream_id="t1", after=watched["last_event_id"])
        assert again["outputs"] == [] and again["status"] == "completed"

        inspected = await client.call("stream.inspect", stream_id="t1")
        assert inspected["state"] == {"total": 10} and inspected["stats"]["processed"] == 4

        await client.call(
            "stream.start", processor="running-total", stream_id="t2", initial_state={"total": 100}
        )
        cancelled = await client.call("stream.cancel", stream_id="t2")
        assert cancelled["status"] == "cancelled"
        listed = await client.call("stream.list")
        assert {s["id"]: s["status"] for s in listed["streams"]} == {"t1": "completed", "t2": "cancelled"}


async def test_refusals_are_tool_errors_with_a_code() -> None:
    async with launched() as client:
        unknown = await client.refused("stream.push", stream_id="nope", chunks=[1])
        assert unknown["code"] == "unknown-stream" and "nope" in unknown["message"]
        bad = await client.refused("stream.push", stream_id="t", chunks=[])
        assert bad["code"] == "bad-request" and "chunks" in bad["message"]
        extra = await client.refused("stream.list", verbose=True)
        assert extra["code"] == "bad-request" and "verbose" in extra["message"]
        processor = await client.refused("stream.start", processor="no-such-fn")
        assert processor["code"] == "bad-request" and "running-total" in processor["message"]
        files = await client.refused("stream.start", processor="running-total", source="jsonl:/etc/passwd")
        assert files["code"] == "effect-denied" and ":fs" in files["message"]
        await client.call("stream.start", processor="running-total", stream_id="dup")
        dup = await client.refused("stream.start", processor="running-total", stream_id="dup")
        assert dup["code"] == "stream-exists"
        await client.call("stream.cancel", stream_id="dup")
        closed = await client.refused("stream.push", stream_id="dup", chunks=[{"n": 1}])
        assert closed["code"] == "stream-closed"


async def test_streams_are_resources_with_subscriptions() -> None:
    async with launched() as client:
        session = client.session
        await client.call("stream.start", processor="running-total", stream_id="r1")
        [resource] = (await session.list_resources()).resources
        assert (resource.uri, resource.mime_type) == ("streamrt://streams/r1", "application/json")
        [template] = (await session.list_resource_templates()).resource_templates
        assert template.uri_template == "streamrt://streams/{id}"

        await session.subscribe_resource("streamrt://streams/r1")
        await client.call("stream.push", stream_id="r1", chunks=[{"n": 5}])

        async def updated() -> None:
            while not any(
                isinstance(n, types.ResourceUpdatedNotification) and n.params.uri == "streamrt://streams/r1"
                for n in client.notifications
            ):
                await asyncio.sleep(0.02)

        await asyncio.wait_for(updated(), 10)
        read = await session.read_resource("streamrt://streams/r1")
        doc = json.loads(read.contents[0].text)  # type: ignore[union-attr]
        assert doc["state"] == {"total": 5} and doc["status"] == "active"

        with pytest.raises(MCPError, match="unknown-stream"):
            await session.read_resource("streamrt://streams/nope")
        await session.unsubscribe_resource("streamrt://streams/r1")


async def test_a_store_keeps_the_streams_for_the_next_server(tmp_path: Path) -> None:
    store = str(tmp_path / "mcp.db")
    async with launched("--store", store) as client:
        await client.call("stream.start", processor="running-total", stream_id="kept")
        await client.call("stream.push", stream_id="kept", chunks=[{"n": 2}, {"n": 3}])
    async with launched("--store", store) as client:
        listed = await client.call("stream.list")
        assert [s["id"] for s in listed["streams"]] == ["kept"]
        await client.call("stream.push", stream_id="kept", chunks=[{"n": 5, "last": True}])
        watched = await client.call("stream.watch", stream_id="kept")
        assert [o["value"]["total"] for o in watched["outputs"]] == [2, 5, 10]
        assert watched["status"] == "completed"


def _rpc(proc: subprocess.Popen[str], message: dict[str, Any]) -> dict[str, Any] | None:
    """Send one JSON-RPC message by hand; a request's answer (the server's own lines before it are skipped)."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
    proc.stdin.flush()
    if "id" not in message:
        return None
    while True:
        line = proc.stdout.readline()
        assert line, "the server closed stdout"
        answer: dict[str, Any] = json.loads(line)
        if answer.get("id") == message["id"]:
            return answer


async def test_a_sigterm_while_serving_still_closes_the_store(tmp_path: Path) -> None:
    """The SDK's stdio client sends SIGTERM when a server does not exit soon after stdin closes: serving stops, and
    the close that writes the last events runs to its end, so the next server on the store has every output."""
    store = str(tmp_path / "mcp.db")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamrt", "mcp", str(SCRIPT), "--store", store],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        hello = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        }
        assert "result" in (_rpc(proc, {"id": 1, "method": "initialize", "params": hello}) or {})
        _rpc(proc, {"method": "notifications/initialized"})
        calls = [
            {"name": "stream.start", "arguments": {"processor": "running-total", "stream_id": "kept"}},
            {"name": "stream.push", "arguments": {"stream_id": "kept", "chunks": [{"n": 2}, {"n": 3}]}},
        ]
        for n, call in enumerate(calls, 2):
            answer = _rpc(proc, {"id": n, "method": "tools/call", "params": call}) or {}
            assert not answer["result"].get("isError"), answer
        inspect = {"name": "stream.inspect", "arguments": {"stream_id": "kept"}}
        # until both chunks are processed: their outputs are in the log, maybe not committed yet
        for n in range(10, 1000):
            answer = _rpc(proc, {"id": n, "method": "tools/call", "params": inspect}) or {}
            if answer["result"]["structuredContent"]["stats"]["processed"] == 2:
                break
            time.sleep(0.02)
        # the SDK's shutdown: stdin closes, then SIGTERM when the server is not gone after a grace period; here at
        # once and again every 20 ms, so signals land while it serves and while it closes (which must run to its end)
        assert proc.stdin is not None
        proc.stdin.close()
        for _ in range(3000):
            proc.send_signal(signal.SIGTERM)
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        # 0, or killed by a signal that came after serve_stdio gave the signal back (with everything written)
        assert proc.wait(timeout=1) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
    async with launched("--store", store) as client:
        await client.call("stream.push", stream_id="kept", chunks=[{"n": 5, "last": True}])
        watched = await client.call("stream.watch", stream_id="kept")
        assert [o["value"]["total"] for o in watched["outputs"]] == [2, 5, 10]


@pytest.mark.parametrize(
    ("script", "message"),
    [
        pytest.param(
            "/nonexistent/x.rtfs", "streamrt mcp: cannot read script /nonexistent/x.rtfs", id="missing"
        ),
        pytest.param("broken", "broken.rtfs:2:3: '(' is never closed", id="syntax"),
    ],
)
def test_a_bad_script_is_one_message_before_serving(tmp_path: Path, script: str, message: str) -> None:
    if script == "broken":
        (tmp_path / "broken.rtfs").write_text("(defn broken [s c]\n  (+ s")
        script = str(tmp_path / "broken.rtfs")
    out, err = io.StringIO(), io.StringIO()
    assert main(["mcp", script], out=out, err=err) == 2  # the scripts load before stdin is touched
    assert out.getvalue() == ""
    assert message in err.getvalue() and "Traceback" not in err.getvalue()
