"""Backpressure end to end: a paused stream fed by a fast real server through a real Provider.

The server offers far more than the queue holds; the queue fills to capacity, the reader stops pulling, the kernel's
socket buffers fill and the server's writes block. On resume every event arrives once, in order, on the same
connection.
"""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from websockets.asyncio.server import ServerConnection, serve

from streamrt.runtime.provider import Provider
from streamrt.sources.retry import RetryPolicy
from streamrt.sources.sse import SseSource
from streamrt.sources.ws import WebSocketSource
from tests.sources.provider_helpers import Recorder, plateau, until
from tests.sources.sse_server import Event, Plan, SseTestServer

pytestmark = pytest.mark.timeout(60)

FAST = RetryPolicy(max_attempts=5, max_elapsed=10.0, initial=0.01, maximum=0.05)
TOTAL = 2000
CAPACITY = 16
PAD = "x" * 8000  # 2000 events of ~8 KB: 16 MB on offer, against a 16-chunk queue


async def test_paused_sse_stream_blocks_the_server_then_gets_every_event_in_order() -> None:
    events = [Event(json.dumps({"seq": i, "pad": PAD}), id=str(i)) for i in range(1, TOTAL + 1)]
    recorder = Recorder()
    async with SseTestServer(Plan(events=events), sndbuf=64 * 1024) as server, Provider() as p:
        sid = p.start(recorder, source=SseSource(server.url, retry=FAST), queue_capacity=CAPACITY)
        p.pause(sid)
        record = p.record(sid)

        await until(
            lambda: len(record.queue) == CAPACITY and server.stuck, what="a full queue, a stuck server"
        )
        # The reader stopped pulling; once the kernel's socket buffers are full the server sits blocked, having
        # written a small fraction of what it offers.
        written = await plateau(lambda: server.sent)
        assert server.stuck and written < TOTAL // 4, (written, server.sent_bytes)
        assert record.processed == 0 and record.seq == CAPACITY
        assert p.inspect(sid)["source"]["health"]["state"] == "connected"

        p.resume(sid)
        await asyncio.wait_for(p.wait(sid), timeout=30)
        stats = record.statistics()
        assert record.status.value == "completed"
    assert recorder.seen == list(range(1, TOTAL + 1))
    assert (stats.processed, stats.dropped, stats.errors, stats.outputs) == (TOTAL, 0, 0, TOTAL)
    assert stats.queue_high_watermark == CAPACITY
    assert stats.backpressure_wait > 0
    assert len(server.requests) == 1, "no reconnect: the connection just waited"


async def test_paused_websocket_stream_blocks_the_server_then_gets_every_frame_in_order() -> None:
    blocked = asyncio.Event()
    sent = 0
    sent_when_blocked: int | None = None

    async def handler(ws: ServerConnection) -> None:
        nonlocal sent, sent_when_blocked
        ws.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        for i in range(1, TOTAL + 1):
            # Bytes waiting in the transport mean the kernel's buffers are full: the client stopped reading.
            if not blocked.is_set() and ws.transport.get_write_buffer_size() > 0:
                sent_when_blocked = sent
                blocked.set()
            await ws.send(json.dumps({"seq": i, "pad": PAD}))
            sent += 1
        await ws.close(1000)

    recorder = Recorder()
    # No permessage-deflate: the padding would shrink to nothing on the wire and never fill a socket.
    async with serve(handler, "127.0.0.1", 0, compression=None) as server, Provider() as p:
        port = next(iter(server.sockets)).getsockname()[1]
        source = WebSocketSource(f"ws://127.0.0.1:{port}/feed", retry=FAST)
        sid = p.start(recorder, source=source, queue_capacity=CAPACITY)
        p.pause(sid)
        record = p.record(sid)

        await asyncio.wait_for(blocked.wait(), timeout=10)
        await until(lambda: len(record.queue) == CAPACITY, what="the queue to fill")
        written = await plateau(lambda: sent)
        assert sent_when_blocked is not None and written < TOTAL // 4, (sent_when_blocked, written)
        assert record.processed == 0 and record.seq == CAPACITY

        p.resume(sid)
        await asyncio.wait_for(p.wait(sid), timeout=30)
        stats = record.statistics()
        assert record.status.value == "completed"
    assert recorder.seen == list(range(1, TOTAL + 1))
    assert (stats.processed, stats.dropped) == (TOTAL, 0)
    assert source.health.reconnects == 0
