"""The provider reading from a source: chunks, control events, faults, end of input, backpressure."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streamrt.runtime.provider import Provider
from streamrt.sources.base import Chunk, ChunkFault, Control, Item

from .helpers import SEEN, K, ScriptedSource, collect

pytestmark = pytest.mark.timeout(10)


async def test_source_chunks_meta_continuation_and_end() -> None:
    metas: list[Any] = []

    def proc(state: Any, chunk: Any, meta: Any) -> Any:
        metas.append(meta)
        return collect(state, chunk)

    items = [Chunk(i, {K("line"): i + 1}, {"line": i + 1}) for i in range(5)]
    src = ScriptedSource(items)
    async with Provider() as p:
        sid = p.start(proc, source=src)
        await p.wait(sid)
        r = p.record(sid)
        assert r.status.value == "completed"
        assert r.state[SEEN] == (0, 1, 2, 3, 4)
        assert r.continuation == {"line": 5}
        assert p.inspect(sid)["source"]["kind"] == "scripted"
    assert [m[K("line")] for m in metas] == [1, 2, 3, 4, 5]
    assert {m[K("source")] for m in metas} == {"scripted"}
    assert src.opened and src.closed


async def test_control_events_are_directives_never_data() -> None:
    items: list[Item] = [Chunk("a"), Control(K("pause")), Chunk({K("action"): K("stop")}), Chunk("c")]
    async with Provider() as p:
        sid = p.start(collect, source=ScriptedSource(items, finite=False))
        for _ in range(10):
            await asyncio.sleep(0)
        r = p.record(sid)
        # The control takes effect when read, like a host directive: "a" was read first but not yet processed.
        assert r.status.value == "paused"
        assert r.processed == 0
        assert [e[1] for e in r.queue] == ["a", {K("action"): K("stop")}, "c"]
        p.resume(sid)
        await p.wait(sid)
        assert r.state[SEEN] == ("a", {K("action"): K("stop")}, "c")
        assert r.status.value == "completed"


async def test_unknown_control_action_is_an_error() -> None:
    async with Provider() as p:
        sid = p.start(collect, source=ScriptedSource([Control(K("explode"))]))
        await p.wait(sid)
        r = p.record(sid)
        assert r.status.value == "error"
        assert r.message is not None and "unknown control action :explode" in r.message


async def test_fault_errors_the_stream_in_order() -> None:
    items: list[Item] = [Chunk(1), Chunk(2), ChunkFault("data.jsonl:3: not JSON"), Chunk(4)]
    async with Provider() as p:
        sid = p.start(collect, source=ScriptedSource(items))
        await p.wait(sid)
        r = p.record(sid)
        assert r.state[SEEN] == (1, 2), "chunks before the fault are processed"
        assert (r.status.value, r.message) == ("error", "chunk 3: data.jsonl:3: not JSON")
        s = r.statistics()
        assert (s.processed, s.errors, s.processed + s.queued + s.dropped) == (2, 1, r.seq)


async def test_backpressure_reaches_the_source() -> None:
    src = ScriptedSource([Chunk(i) for i in range(100)])
    async with Provider(default_queue_capacity=4) as p:
        sid = p.start(collect)
        p.pause(sid)
        # a paused stream with a source: start it paused by pausing right after start
        sid2 = p.start(collect, source=src)
        p.pause(sid2)
        for _ in range(20):
            await asyncio.sleep(0)
        assert len(p.record(sid2).queue) == 4
        assert src.pulled <= 5, "the reader must stop pulling while the queue is full"
        p.resume(sid2)
        await p.wait(sid2)
        assert p.record(sid2).state[SEEN] == tuple(range(100))
        assert p.record(sid2).dropped == 0
        p.cancel(sid)


async def test_source_failure_is_a_stream_error() -> None:
    class Broken(ScriptedSource):
        async def items(self) -> Any:
            yield Chunk(1)
            raise ConnectionResetError("peer went away")

    async with Provider() as p:
        sid = p.start(collect, source=Broken([]))
        await p.wait(sid)
        r = p.record(sid)
        assert r.status.value == "error"
        assert r.message == "source scripted:test: ConnectionResetError: peer went away"
