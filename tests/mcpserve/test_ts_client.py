"""The official TypeScript SDK's client (npm ``@modelcontextprotocol/sdk``, tests/node/mcp_client.mjs) drives every
tool and the resources of ``streamrt mcp`` over stdio and of ``streamrt serve --mcp`` over Streamable HTTP; the
script prints what it saw and this test checks it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.mcpserve.peers import served

pytestmark = pytest.mark.timeout(120)

CLIENT = Path(__file__).parents[1] / "node" / "mcp_client.mjs"
SCRIPT = Path(__file__).with_name("totals.rtfs")


def check_session(seen: dict[str, Any], stream_id: str) -> None:
    """What the TypeScript client saw, for either transport."""
    assert seen["tools"] == sorted(
        f"stream.{t}" for t in ("start", "push", "inspect", "list", "pause", "resume", "cancel", "watch")
    )
    assert seen["started"]["status"] == "active" and seen["started"]["id"] == stream_id
    assert (seen["pushed"]["accepted"], seen["pushed"]["total"]) == (2, 2)
    assert (seen["paused"], seen["resumed"]) == ("paused", "active")
    paused = seen["inspected_paused"]
    assert paused["status"] == "paused" and [q["chunk"] for q in paused["queue"]] == [{"n": 3}]
    watched = seen["watched"]
    assert watched["status"] == "completed"
    assert [o["value"]["total"] for o in watched["outputs"]] == [1, 3, 6, 10]
    # The TypeScript client dispatches notifications a microtask later than responses, and drops progress that it
    # handles after the call's response (it removes the handler with the response): when the last progress and
    # the result arrive in one read, the last progress is lost on its side. What it does see is in order and
    # complete up to there; the result holds every output (the Python SDK's tests check each progress arrives).
    progress = seen["progress"]
    assert len(progress) >= 2
    assert [p["progress"] for p in progress] == list(range(1, len(progress) + 1))
    assert [p["message"] for p in progress] == watched["outputs"][: len(progress)]
    assert seen["resource"]["state"] == {"total": 10} and seen["resource"]["status"] == "completed"
    assert f"streamrt://streams/{stream_id}" in seen["resources"]
    assert f"streamrt://streams/{stream_id}" in seen["updates"]
    assert seen["cancelled"] == "cancelled"
    assert [stream_id, "completed"] in seen["listed"] and [f"{stream_id}-2", "cancelled"] in seen["listed"]
    assert seen["refused"]["error"]["code"] == "unknown-stream"


def test_typescript_client_over_stdio(node_modules: Path) -> None:
    proc = subprocess.run(
        ["node", str(CLIENT), "stdio", sys.executable, "-m", "streamrt", "mcp", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=100,
        cwd=node_modules.parent,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    check_session(json.loads(proc.stdout), "ts-stdio")


async def test_typescript_client_over_streamable_http(node_modules: Path, tmp_path: Path) -> None:
    async with served(tmp_path) as (server, _):
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(CLIENT),
            "http",
            f"{server.url}/mcp",
            "alice-secret",
            cwd=node_modules.parent,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 100)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, err.decode()[-3000:]
    check_session(json.loads(out), "ts-http")
