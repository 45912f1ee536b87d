"""Timers on the fake clock: a result's ``:timers`` calls the processor back, exactly when asked, with no chunk."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streamrt.errors import StreamClosedError
from streamrt.meta import KIND, SEQ, TIMER
from streamrt.policy.effects import SecurityContext
from streamrt.runtime.contract import result
from streamrt.runtime.machine import Status
from streamrt.runtime.provider import Provider
from streamrt.runtime.timers import TIME
from streamrt.store import MemoryStore
from streamrt.store.snapshot import Snapshot
from streamrt.testing import FakeClock
from streamrt.values import Keyword

K = Keyword
FLUSH, CLOSE = K("flush"), K("close")
START = 1_700_000_000.0


class Recorder:
    """A processor that logs every call and answers chunks with what they ask (``{:timers ...}``) and timers with
    an output naming them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any]] = []

    def __call__(self, state: Any, chunk: Any, meta: dict[Keyword, Any]) -> Any:
        if meta.get(KIND) == "timer":
            self.calls.append(("timer", chunk, meta))
            if chunk[TIMER] is K("boom"):
                raise ValueError("the timer went off badly")
            return result(
                {**state, K("fired"): state.get(K("fired"), 0) + 1},
                output={K("timer"): meta[TIMER], K("time"): chunk[TIME], K("seq"): meta[SEQ]},
                timers=state.get(K("again"), {}),
            )
        self.calls.append(("chunk", chunk, meta))
        state = {**state, K("n"): state.get(K("n"), 0) + 1}
        if K("again") in chunk:
            state[K("again")] = chunk[K("again")]
        asked = chunk.get(K("timers"))
        return result(state, timers=asked) if asked else state

    def timers(self) -> list[Any]:
        return [c[1] for c in self.calls if c[0] == "timer"]


async def started(clock: FakeClock, **kwargs: Any) -> tuple[Provider, Recorder, str, list[Any]]:
    p = Provider(clock=clock, **kwargs)
    proc = Recorder()
    seen: list[Any] = []
    p.add_sink(lambda o: seen.append(o.value))
    sid = p.start(proc, stream_id="s", processor_name="rec")
    return p, proc, sid, seen


async def test_a_timer_fires_exactly_when_due_with_no_chunk_arriving() -> None:
    clock = FakeClock(START)
    p, proc, sid, seen = await started(clock)
    async with p:
        await p.push(sid, {K("timers"): {FLUSH: 1000}})
        await p.settle()
        await clock.advance_ms(999, p.settle)
        assert proc.timers() == []
        await clock.advance_ms(1, p.settle)
        assert proc.timers() == [{TIMER: FLUSH, TIME: round(START * 1000) + 1000}]
        _, _, meta = proc.calls[-1]
        assert (meta[KIND], meta[TIMER], meta[SEQ]) == ("timer", FLUSH, 1)
        assert seen == [{K("timer"): FLUSH, K("time"): round(START * 1000) + 1000, K("seq"): 1}]
        stats = p.record(sid).statistics()
        assert (stats.processed, stats.timers_run) == (1, 1), "a timer run is not a chunk"
        await clock.advance_ms(10_000, p.settle)
        assert len(proc.timers()) == 1, "a timer fires once"


async def test_setting_a_timer_again_moves_it_and_nil_cancels_it() -> None:
    clock = FakeClock(START)
    p, proc, sid, _ = await started(clock)
    async with p:
        await p.push(sid, {K("timers"): {FLUSH: 1000, CLOSE: 500}})
        await p.settle()
        await clock.advance_ms(400, p.settle)
        await p.push(sid, {K("timers"): {FLUSH: 1000, CLOSE: None}})  # flush now due at 1400, close cancelled
        await p.settle()
        await clock.advance_ms(999, p.settle)
        assert proc.timers() == []
        await clock.advance_ms(1, p.settle)
        assert [t[TIME] for t in proc.timers()] == [round(START * 1000) + 1400]
        assert p.record(sid).timers == {}


async def test_at_sets_a_processing_time_and_a_timer_may_set_the_next() -> None:
    clock = FakeClock(START)
    p, proc, sid, _ = await started(clock)
    base = round(START * 1000)
    async with p:
        # close at an absolute time; tick every 250 ms, each run setting the next (the clock stops at each)
        chunk = {K("timers"): {CLOSE: {K("at"): base + 1000}, K("tick"): 250}, K("again"): {K("tick"): 250}}
        await p.push(sid, chunk)
        await p.settle()
        await clock.advance_ms(1100, p.settle)
        fired = [(t[TIMER].name, t[TIME] - base) for t in proc.timers()]
        # at 1000 both were due; close ran first (armed first) and set tick again, which moved the due one
        assert fired == [("tick", 250), ("tick", 500), ("tick", 750), ("close", 1000)]
        assert p.record(sid).timers == {K("tick"): START + 1.25}


async def test_a_timer_waits_for_the_chunks_accepted_before_it() -> None:
    clock = FakeClock(START)
    p, proc, sid, _ = await started(clock)
    async with p:
        await p.push(sid, {K("timers"): {FLUSH: 100}})
        await p.settle()
        p.pause(sid)
        for i in range(3):
            await p.push(sid, {K("i"): i})
        await clock.advance_ms(100, p.settle)
        await p.push(sid, {K("i"): 3})
        assert proc.timers() == [], "a paused stream holds its timers"
        p.resume(sid)
        await p.settle()
        order = [c[1].get(K("i"), "timer") if c[0] == "chunk" else "timer" for c in proc.calls[1:]]
        assert order == [0, 1, 2, "timer", 3]


async def test_a_terminal_stream_drops_its_timers() -> None:
    clock = FakeClock(START)
    p, proc, sid, _ = await started(clock)
    async with p:
        await p.push(sid, {K("timers"): {FLUSH: 100}})
        await p.settle()
        p.cancel(sid)
        await clock.advance_ms(1000, p.settle)
        assert proc.timers() == []
        assert p.record(sid).timers == {} and clock.next_due() is None


async def test_a_failing_timer_fails_its_stream_naming_the_timer() -> None:
    clock = FakeClock(START)
    p, _, sid, _ = await started(clock)
    other = p.start(lambda s, c: s, stream_id="other")
    async with p:
        await p.push(sid, {K("timers"): {K("boom"): 10}})
        await p.settle()
        await clock.advance_ms(10, p.settle)
        rec = p.record(sid)
        assert rec.status is Status.ERROR
        assert rec.message == "timer :boom: ValueError: the timer went off badly"
        assert p.record(other).status is Status.ACTIVE


async def test_a_host_that_denies_the_clock_refuses_timers() -> None:
    clock = FakeClock(START)
    p, _, sid, _ = await started(clock, security=SecurityContext.parse(deny="clock"))
    async with p:
        await p.push(sid, {K("timers"): {FLUSH: 10}})
        await p.settle()
        rec = p.record(sid)
        assert rec.status is Status.ERROR
        assert "sets timers, which need the :clock effect" in (rec.message or "")
        assert "drop clock from --deny" in (rec.message or "")
        assert clock.next_due() is None
        with pytest.raises(StreamClosedError):
            await p.push(sid, {})


async def test_the_clock_capability_reads_the_providers_clock() -> None:
    clock = FakeClock(START)
    async with Provider(clock=clock) as p:
        table = p.capabilities()
        assert table["clock"]({}, None) == round(START * 1000)  # type: ignore[arg-type]
        clock.now += 1.5
        assert table["clock"]({}, None) == round(START * 1000) + 1500  # type: ignore[arg-type]


async def test_timers_are_snapshotted_and_late_ones_run_at_once_once_after_a_restore() -> None:
    clock = FakeClock(START)
    store = MemoryStore()
    await store.__aenter__()
    base = round(START * 1000)
    p, _, sid, _ = await started(clock, store=store)
    async with p:
        await p.push(sid, {K("timers"): {FLUSH: 1000, CLOSE: 5000}})
        await p.settle()
        await p.persistence.flush()  # type: ignore[union-attr]
    snap = await store.get(sid)
    assert sorted((str(n), t) for n, t in snap.timers) == [(":close", START + 5), (":flush", START + 1)]

    clock = FakeClock(START + 3)  # three seconds later: flush is late, close is not
    q = Provider(clock=clock, store=store)
    again = Recorder()
    seen: list[Any] = []
    q.add_sink(lambda o: seen.append(o.value))
    async with q:
        await q.persistence.claim(sid, snap.version)  # type: ignore[union-attr]
        q.restore(snap, again)
        await q.settle()
        await clock.advance(0, q.settle)
        assert [t[TIME] - base for t in again.timers()] == [1000], (
            "the late timer ran at once, with its due time"
        )
        await clock.advance_ms(1999, q.settle)
        assert len(again.timers()) == 1
        await clock.advance_ms(1, q.settle)
        assert [t[TIME] - base for t in again.timers()] == [1000, 5000]
        await clock.advance_ms(60_000, q.settle)
        assert len(again.timers()) == 2, "each ran once"
    assert (await store.get(sid)).timers == []
    await store.__aexit__(None, None, None)


async def test_a_snapshot_keeps_a_timer_that_came_due_while_paused() -> None:
    clock = FakeClock(START)
    p, _, sid, _ = await started(clock)
    async with p:
        await p.push(sid, {K("timers"): {FLUSH: 100}})
        await p.settle()
        p.pause(sid)
        await clock.advance_ms(500, p.settle)
        snap = await p.release(sid)
    assert snap.status == "paused" and snap.timers == [(FLUSH, START + 0.1)]
    clock = FakeClock(START + 10)
    async with Provider(clock=clock) as q:
        again = Recorder()
        q.restore(snap, again)
        await clock.advance(0, q.settle)
        assert again.timers() == [], "still paused"
        q.resume(sid)
        await q.settle()
        await clock.advance(0, q.settle)
        assert [t[TIME] for t in again.timers()] == [round(START * 1000) + 100]


async def test_old_snapshots_without_timers_restore_with_none() -> None:
    async with Provider(clock=FakeClock(START)) as p:
        sid = p.restore(Snapshot("old", "rec", state={K("n"): 1}), Recorder())
        assert p.record(sid).timers == {}


async def test_a_timer_on_the_system_clock_fires_through_the_event_loop() -> None:
    async with Provider() as p:
        proc = Recorder()
        sid = p.start(proc, stream_id="real")
        await p.push(sid, {K("timers"): {FLUSH: 20}})
        for _ in range(200):
            if proc.timers():
                break
            await asyncio.sleep(0.01)
        assert [t[TIMER] for t in proc.timers()] == [FLUSH]
