"""A source-fed stream that becomes terminal stops reading its source at once and counts nothing more as dropped."""

from __future__ import annotations

import asyncio
import json

import pytest

from streamrt.runtime.provider import Provider
from streamrt.sources.retry import RetryPolicy
from streamrt.sources.sse import SseSource
from tests.sources.provider_helpers import Recorder
from tests.sources.sse_server import Event, Plan, SseTestServer

pytestmark = pytest.mark.timeout(30)

FAST = RetryPolicy(max_attempts=5, max_elapsed=10.0, initial=0.01, maximum=0.05)
TOTAL = 5000


@pytest.mark.parametrize(
    "capacity",
    [
        pytest.param(2, id="processed-by-the-reader"),  # a full queue is drained inline by the reader task
        pytest.param(256, id="processed-by-the-worker"),
    ],
)
async def test_complete_from_the_processor_closes_the_connection(capacity: int) -> None:
    events = [Event(json.dumps({"seq": i, "pad": "x" * 1000}), id=str(i)) for i in range(1, TOTAL + 1)]
    recorder = Recorder(complete_at=3)
    async with SseTestServer(Plan(events=events), sndbuf=32 * 1024) as server, Provider() as p:
        source = SseSource(server.url, retry=FAST)
        sid = p.start(recorder, source=source, queue_capacity=capacity)
        await asyncio.wait_for(p.wait(sid), timeout=10)
        record = p.record(sid)
        for _ in range(500):
            if not record.activity()["source_reading"]:
                break
            await asyncio.sleep(0.01)
        assert not record.activity()["source_reading"], "the reader task ended (cancelled, or at the end)"
        await asyncio.wait_for(server.client_gone.wait(), timeout=5)
        stats = record.statistics()
        assert record.status.value == "completed"
        assert recorder.seen == [1, 2, 3]
        # What was queued when the stream completed is discarded and counted once; nothing read after.
        assert stats.processed == 3 and stats.queued == 0
        assert stats.processed + stats.dropped == record.seq
        assert stats.dropped <= capacity
        assert server.sent < TOTAL // 2, "the server was stopped by the closed connection"
        assert p.inspect(sid)["source"]["health"]["state"] == "closed"
        assert len(server.requests) == 1
