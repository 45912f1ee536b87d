"""Hostile event-stream servers (issue #18): an endless line, one event per connection, a trickle.

Each server is a real one on loopback (tests/hostile/peers.py); the client is the source a stream would use,
opened by URI as `streamrt run` opens it. The memory bound is measured in a process of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from streamrt.errors import SourceError
from streamrt.runtime.contract import result
from streamrt.runtime.provider import Provider
from streamrt.sources import Source, open_source
from streamrt.sources.base import Chunk, Item
from streamrt.sources.retry import RetryPolicy
from tests.hostile.peers import HostilePeer

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
RECONNECT_DELAY = RetryPolicy().reconnect_delay
FAST_RETRY = {"max-attempts": 0, "max-elapsed": 0, "initial": 0.05, "maximum": 2}


async def drain(source: Source, seconds: float) -> list[Item]:
    """Items read from ``source`` within ``seconds`` (errors propagate)."""
    got: list[Item] = []

    async def read() -> None:
        async with source, contextlib.aclosing(source.items()) as items:
            async for item in items:
                got.append(item)

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await read()
    return got


async def chunks_of(source: Source, n: int, *, within: float = 30) -> list[Chunk]:
    """The first ``n`` chunks ``source`` gives; fails if they take more than ``within`` seconds (however loaded the
    machine, a wait that long is a hang, not a slow connect)."""
    got: list[Chunk] = []
    async with asyncio.timeout(within), source, contextlib.aclosing(source.items()) as items:
        async for item in items:
            if isinstance(item, Chunk):
                got.append(item)
                if len(got) == n:
                    break
    return got


# --- (a) an endless line ---------------------------------------------------------------------------------------

MEASURE = """
import asyncio, json, resource, sys
from tests.hostile.peers import HostilePeer
from streamrt.sources import open_source

async def main():
    async with HostilePeer(sys.argv[1], limit=int(sys.argv[2])) as peer:
        url = "mcp+" + peer.url + "?tool=t" if sys.argv[1].startswith("mcp-") else peer.url
        source = open_source(url, options=json.loads(sys.argv[3]))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        error = None
        try:
            async with source:
                async for _ in source.items():
                    pass
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"grew_kib": after - before, "sent": peer.sent, "error": error,
                          "health": source.health.as_dict()}))

asyncio.run(main())
"""


def measure(behaviour: str, limit: int, options: dict[str, Any]) -> dict[str, Any]:
    """Read a hostile server's stream in a fresh process; its peak memory growth and how the source ended."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, behaviour, str(limit), json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=50,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("behaviour", ["endless-line", "endless-event"])
def test_an_endless_line_or_event_fails_the_source_with_bounded_memory(behaviour: str) -> None:
    # The server offers 96 MiB of one line (or of one event's data lines); the default cap is 4 MiB.
    got = measure(behaviour, 96 * 2**20, {"retry": FAST_RETRY})
    assert got["error"] is not None and got["error"].startswith("SourceError: "), got
    assert "over the size limit" in got["error"] and ":max-event-size" in got["error"]
    assert got["health"]["state"] == "failed"
    # It stopped reading soon after the cap (socket buffers hold a few MiB more), and memory stayed near the cap.
    assert got["sent"] < 32 * 2**20, got
    assert got["grew_kib"] < 40 * 1024, got


def test_the_event_size_cap_is_an_option() -> None:
    got = measure("endless-line", 8 * 2**20, {"max-event-size": 100_000})
    assert "100000 bytes" in got["error"], got
    assert got["grew_kib"] < 20 * 1024, got


def count(state: int, chunk: Any) -> Any:
    return result(state + 1)


async def test_an_oversized_event_puts_only_its_stream_in_error() -> None:
    async with HostilePeer("endless-line", limit=16 * 2**20) as peer, Provider() as p:
        bad = p.start(lambda s, c: s, stream_id="bad", source=open_source(peer.url))
        good = p.start(count, stream_id="good", initial_state=0, source=open_source("mock:g?count=50"))
        await p.wait(good)
        async with asyncio.timeout(20):
            while p.record(bad).status.value != "error":
                await asyncio.sleep(0.05)
        assert p.record(good).status.value == "completed" and p.record(good).state == 50
        message = p.record(bad).message or ""
        assert message.startswith(f"source {peer.url}: ") and "over the size limit" in message


# --- (b) one event per connection ------------------------------------------------------------------------------


async def test_a_server_that_sends_one_event_and_closes_is_not_hammered() -> None:
    async with HostilePeer("one-event-then-close") as peer:
        source = open_source(peer.url)  # the defaults: reconnect-delay 0.5 s, whatever `retry: 0` says
        start = time.monotonic()
        chunks = await chunks_of(source, 4)
        elapsed = time.monotonic() - start
    assert len(chunks) == peer.connections == 4  # it does reconnect, and each connection delivered its event
    # three waits of at least the reconnect delay between the four connections (a tight loop: milliseconds); a
    # loaded machine only makes it slower, so no upper bound
    assert elapsed >= 3 * RECONNECT_DELAY, elapsed
    assert source.health.reconnects == 3


async def test_the_reconnect_delay_is_an_option() -> None:
    async with HostilePeer("one-event-then-close") as peer:
        source = open_source(peer.url, options={"retry": {"reconnect-delay": 1.5}})
        start = time.monotonic()
        await chunks_of(source, 2)
        elapsed = time.monotonic() - start
    assert peer.connections == 2 and elapsed >= 1.5, elapsed  # the option's delay, not the default 0.5 s


async def test_drops_in_a_row_back_off_with_jitter_up_to_the_cap() -> None:
    """A server that closes after every event: the waits double from reconnect-delay up to maximum, each random
    in the upper half of its window (a fixed delay gave it two reconnects a second for ever)."""
    waits: list[float | None] = []
    async with HostilePeer("one-event-then-close") as peer:
        source = open_source(
            peer.url, options={"retry": {"reconnect-delay": 0.01, "initial": 0.01, "maximum": 0.16}}
        )
        source.health.watch(lambda h: waits.append(h.retry_in) if h.state == "reconnecting" else None)
        await chunks_of(source, 8)
    assert waits[0] == 0.01
    windows = [0.02, 0.04, 0.08, 0.16, 0.16, 0.16]
    assert len(waits) == 1 + len(windows), waits
    for wait, window in zip(waits[1:], windows, strict=True):
        assert wait is not None and window / 2 <= wait <= window, waits


# --- (c) a trickle that never completes an event ---------------------------------------------------------------


async def test_a_trickle_that_never_completes_an_event_counts_as_a_drop() -> None:
    async with HostilePeer("trickle", interval=0.2) as peer:
        source = open_source(
            peer.url, options={"event-timeout": 1, "retry": {"max-attempts": 2, "initial": 0.05}}
        )
        with pytest.raises(
            SourceError, match="gave up after 2 attempts: EventStalled: no complete event in 1s"
        ):
            await drain(source, 10)
    assert peer.connections == 2
    assert source.health.state == "failed"


async def test_heartbeats_alone_keep_a_quiet_stream_connected() -> None:
    async with HostilePeer("heartbeats", interval=0.1) as peer:
        source = open_source(peer.url, options={"event-timeout": 0.5})
        items = await drain(source, 2.0)
    assert items == [] and peer.connections == 1
    assert source.health.state == "closed" and source.health.reconnects == 0


# --- the same holes in the MCP source ---------------------------------------------------------------------------


def test_mcp_tool_call_with_an_endless_line_fails_with_bounded_memory() -> None:
    got = measure("mcp-endless-line", 96 * 2**20, {})
    assert got["error"] is not None and got["error"].startswith("SourceError: "), got
    assert ":max-event-size" in got["error"] and got["health"]["state"] == "failed"
    assert got["sent"] < 32 * 2**20 and got["grew_kib"] < 40 * 1024, got


async def test_mcp_tool_call_trickle_counts_as_a_drop() -> None:
    async with HostilePeer("mcp-trickle", interval=0.2) as peer:
        uri = peer.url.replace("http://", "mcp+http://") + "?tool=t"
        source = open_source(uri, options={"event-timeout": 1, "retry": {"max-attempts": 2, "initial": 0.05}})
        # the stream carried no event ids, so the call cannot be resumed: the source fails, naming the stall
        with pytest.raises(SourceError, match="EventStalled: no complete event in 1s"):
            await drain(source, 10)
    assert [r.json()["method"] for r in peer.requests].count("tools/call") == 1


# --- the same holes in the WebSocket source --------------------------------------------------------------------


@contextlib.asynccontextmanager
async def ws_peer(handler: Any) -> AsyncIterator[tuple[str, list[int]]]:
    connections: list[int] = []

    async def counted(ws: ServerConnection) -> None:
        connections.append(1)
        with contextlib.suppress(Exception):
            await handler(ws)

    async with serve(counted, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/", connections


async def test_websocket_message_over_the_cap_fails_the_source() -> None:
    async def big(ws: ServerConnection) -> None:
        await ws.send("x" * 300_000)
        await ws.wait_closed()

    async with ws_peer(big) as (url, connections):
        source = open_source(url, options={"max-event-size": 100_000})
        with pytest.raises(SourceError, match="over 100000 bytes"):
            await drain(source, 10)
    assert len(connections) == 1  # not retried: the server would only send it again


async def test_websocket_trickled_fragments_count_as_a_drop() -> None:
    async def fragments() -> AsyncIterator[str]:
        while True:
            yield "z"
            await asyncio.sleep(0.1)

    async def trickler(ws: ServerConnection) -> None:
        await ws.send(fragments())

    async with ws_peer(trickler) as (url, connections):
        source = open_source(url, options={"event-timeout": 1, "retry": {"max-attempts": 2, "initial": 0.05}})
        with pytest.raises(SourceError, match="EventStalled: no complete message in 1s"):
            await drain(source, 15)
    assert len(connections) == 2
