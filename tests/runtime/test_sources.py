"""The provider reading from a source: chunks, control events, faults, end of input, backpressure."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streamrt.runtime.persist import Persister, SnapshotPolicy
from streamrt.runtime.provider import Provider
from streamrt.sources.base import Chunk, ChunkFault, ChunkRun, Control, Item, Source
from streamrt.store import MemoryStore

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


class RunSource(ScriptedSource):
    """Yields its chunks as runs of ``size`` (a fault between runs stays an item of its own)."""

    def __init__(self, items: list[Item], size: int) -> None:
        super().__init__(items)
        self.size = size

    async def item_batches(self) -> Any:
        items = self._items
        while items:
            if isinstance(items[0], ChunkFault):
                yield [items.pop(0)]
                continue
            run: list[Chunk] = []
            while items and len(run) < self.size and isinstance(items[0], Chunk):
                run.append(items.pop(0))  # type: ignore[arg-type]
            self.pulled += len(run)
            yield ChunkRun(
                [c.value for c in run], [c.meta for c in run], lambda i, run=run: run[i].continuation or {}
            )


async def test_a_run_is_taken_as_room_allows_with_the_continuation_of_its_last_chunk_taken() -> None:
    metas: list[Any] = []

    def proc(state: Any, chunk: Any, meta: Any) -> Any:
        metas.append(meta[K("line")])
        return collect(state, chunk)

    items: list[Item] = [Chunk(i, {K("line"): i}, {"line": i}) for i in range(1, 8)]
    items.append(ChunkFault("f.jsonl:8: not JSON", {K("line"): 8}, {"line": 8}, "{bad"))
    items += [Chunk(i, {K("line"): i}, {"line": i}) for i in range(9, 12)]
    src: Source = RunSource(items, size=5)
    async with Provider(default_queue_capacity=3) as p:
        sid = p.start(proc, source=src)
        p.pause(sid)
        for _ in range(20):
            await asyncio.sleep(0)
        r = p.record(sid)
        assert [e[1] for e in r.queue] == [1, 2, 3], "a run is taken only as far as the queue has room"
        assert r.continuation == {"line": 3} and r.seq == 3
        p.resume(sid)
        await p.wait(sid)
        assert r.status.value == "error"
        assert r.message == "chunk 8: f.jsonl:8: not JSON"
        assert r.state[SEEN] == (1, 2, 3, 4, 5, 6, 7)
        assert metas == [1, 2, 3, 4, 5, 6, 7]
        assert r.statistics().queue_high_watermark == 3


class LazyRunSource(ScriptedSource):
    """Yields its chunks as one run whose metadata is made by a function, counting the calls."""

    def __init__(self, values: list[Any]) -> None:
        super().__init__([])
        self.values = values
        self.made = 0

    def metas(self) -> list[dict[Any, Any]]:
        self.made += 1
        return [{K("line"): i + 1, K("source"): "lazy"} for i in range(len(self.values))]

    async def item_batches(self) -> Any:
        yield ChunkRun(list(self.values), self.metas, lambda i: {"line": i + 1})


async def test_a_runs_metadata_is_not_made_for_a_processor_without_meta() -> None:
    src = LazyRunSource(list(range(10)))
    async with Provider(default_queue_capacity=4) as p:
        sid = p.start(collect, source=src)
        p.pause(sid)
        for _ in range(20):
            await asyncio.sleep(0)
        r = p.record(sid)
        assert [(e[1], e[2]) for e in r.queue] == [(0, None), (1, None), (2, None), (3, None)]
        p.resume(sid)
        await p.wait(sid)
        assert r.status.value == "completed"
        assert r.state[SEEN] == tuple(range(10))
        assert r.continuation == {"line": 10}
    assert src.made == 0


async def test_a_runs_continuation_is_made_only_when_read_and_is_that_of_the_last_chunk_taken() -> None:
    made: list[int] = []

    def continuation_at(i: int) -> dict[str, int]:
        made.append(i)
        return {"line": i + 1}

    class CountingRunSource(ScriptedSource):
        async def item_batches(self) -> Any:
            yield ChunkRun(list(range(10)), [{} for _ in range(10)], continuation_at)

    async with Provider(default_queue_capacity=4) as p:
        sid = p.start(collect, source=CountingRunSource([]))
        p.pause(sid)
        for _ in range(20):
            await asyncio.sleep(0)
        r = p.record(sid)
        assert made == []
        assert r.continuation == {"line": 4} and made == [3]
        assert r.continuation == {"line": 4} and made == [3], "made once"
        p.resume(sid)
        await p.wait(sid)
        assert made == [3], "the takes after it made none"
        assert r.continuation == {"line": 10} and made == [3, 9]


async def test_a_runs_metadata_is_what_a_processor_with_meta_sees() -> None:
    seen: list[Any] = []

    def proc(state: Any, chunk: Any, meta: Any) -> Any:
        seen.append((chunk, meta[K("line")], meta[K("source")], meta[K("seq")]))
        return collect(state, chunk)

    src = LazyRunSource(list(range(10)))
    async with Provider(default_queue_capacity=4) as p:
        sid = p.start(proc, source=src)
        await p.wait(sid)
    assert seen == [(i, i + 1, "scripted", i + 1) for i in range(10)]
    assert src.made == 1


async def test_a_runs_metadata_is_kept_in_a_dead_letter_of_a_processor_without_meta() -> None:
    def proc(state: Any, chunk: Any) -> Any:
        if chunk == 3:
            raise ValueError("three")
        return collect(state, chunk)

    src = LazyRunSource(list(range(6)))
    async with Provider() as p:
        sid = p.start(proc, source=src, on_error="dead-letter")
        await p.wait(sid)
        [letter] = p.dead_letters(sid)
        assert p.record(sid).state[SEEN] == (0, 1, 2, 4, 5)
    assert letter.meta[K("line")] == 4 and letter.meta[K("source")] == "scripted"


async def test_a_runs_metadata_is_queued_for_the_snapshots_of_a_processor_without_meta() -> None:
    src = LazyRunSource(list(range(6)))
    async with MemoryStore() as store, Provider(default_queue_capacity=4) as p:
        persister = Persister(store, SnapshotPolicy(), processor_hash="h")
        p.attach_persistence(persister)
        try:
            sid = p.start(collect, source=src, stream_id="s")
            await persister.claim(sid)
            p.pause(sid)
            for _ in range(20):
                await asyncio.sleep(0)
            r = p.record(sid)
            assert [e[2][K("line")] for e in r.queue] == [1, 2, 3, 4], "a snapshot keeps them"
            p.resume(sid)
            await p.wait(sid)
            assert r.state[SEEN] == tuple(range(6))
        finally:
            await persister.close()


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
