"""The asyncio provider: order, isolation, backpressure, directives, stats, outputs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streamrt.errors import (
    DuplicateStreamError,
    QueueFullError,
    StreamClosedError,
    UnknownStreamError,
    UsageError,
)
from streamrt.lang.script import load_script
from streamrt.runtime.contract import result
from streamrt.runtime.outputs import Output
from streamrt.runtime.provider import Provider
from streamrt.values import Keyword

from .helpers import SEEN, FakeClock, K, N, collect, counter

pytestmark = pytest.mark.timeout(10)


async def test_chunks_processed_in_arrival_order_and_outputs_numbered() -> None:
    got: list[Output] = []
    async with Provider() as p:
        p.add_sink(got.append)
        sid = p.start(collect, stream_id="s")
        for i in range(500):
            await p.push(sid, i)
        p.end_input(sid)
        await p.wait(sid)
        assert p.record(sid).state[SEEN] == tuple(range(500))
    assert [o.value for o in got] == list(range(500))
    assert [o.seq for o in got] == list(range(1, 501))
    assert {o.stream_id for o in got} == {"s"}


async def test_push_many_keeps_order_and_shares_received_at() -> None:
    clock = FakeClock()
    metas: list[dict[Keyword, Any]] = []

    def proc(state: Any, chunk: Any, meta: dict[Keyword, Any]) -> Any:
        metas.append(meta)
        return collect(state, chunk)

    async with Provider(default_queue_capacity=8, clock=clock) as p:
        sid = p.start(proc)
        assert await p.push_many(sid, range(100)) == 100
        await p.settle(sid)
        assert p.record(sid).state[SEEN] == tuple(range(100))
    assert [m[K("seq")] for m in metas] == list(range(1, 101))
    assert {m[K("received-at")] for m in metas} == {1000.0}


async def test_many_streams_each_in_order() -> None:
    async with Provider(default_queue_capacity=4) as p:
        ids = [p.start(collect) for _ in range(300)]
        assert len(set(ids)) == 300
        for i in range(20):
            for sid in ids:
                await p.push(sid, (sid, i))
        for sid in ids:
            p.end_input(sid)
        await p.wait()
        for sid in ids:
            r = p.record(sid)
            assert r.status.value == "completed"
            assert r.state[SEEN] == tuple((sid, i) for i in range(20))


async def test_failing_stream_does_not_affect_others() -> None:
    def fragile(state: Any, chunk: Any) -> Any:
        if chunk == 3:
            raise ZeroDivisionError("division by zero")
        return counter(state, chunk)

    async with Provider() as p:
        bad = p.start(fragile, stream_id="bad")
        good = p.start(counter, stream_id="good")
        for i in range(10):
            for sid in (bad, good):
                try:
                    await p.push(sid, i)
                except StreamClosedError:
                    assert sid == bad
        p.end_input(good)
        await p.wait()
        b, g = p.record(bad), p.record(good)
        assert b.status.value == "error"
        assert b.message == "chunk 4: ZeroDivisionError: division by zero"
        assert b.state == {N: 3}
        sb = b.statistics()
        assert (sb.processed, sb.errors, sb.queued) == (4, 1, 0)
        assert sb.processed + sb.dropped == 10
        assert g.status.value == "completed"
        assert g.state == {N: 10}


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        pytest.param(42, "chunk 1: processor bad returned 42 (integer); expected a map", id="not-a-map"),
        pytest.param(
            {K("action"): K("explode")},
            "chunk 1: processor bad returned unknown action :explode",
            id="action",
        ),
    ],
)
async def test_contract_violation_puts_stream_in_error(returned: Any, message: str) -> None:
    async with Provider() as p:
        sid = p.start(lambda s, c: returned, processor_name="bad")
        await p.push(sid, 1)
        await p.wait(sid)
        r = p.record(sid)
        assert r.status.value == "error"
        assert r.message is not None and r.message.startswith(message)


async def test_backpressure_paused_stream_blocks_producer_and_loses_nothing() -> None:
    clock = FakeClock()
    async with Provider(default_queue_capacity=4, clock=clock) as p:
        sid = p.start(collect)
        p.pause(sid)

        async def producer() -> None:
            for i in range(50):
                await p.push(sid, i)

        task = asyncio.create_task(producer())
        for _ in range(20):
            await asyncio.sleep(0)
        r = p.record(sid)
        assert not task.done(), "the producer must be held back"
        assert len(r.queue) == 4 and r.queue_high_watermark == 4
        assert r.processed == 0 and r.dropped == 0
        clock.now += 2.5
        p.resume(sid)
        await task
        await p.settle(sid)
        s = r.statistics()
        assert r.state[SEEN] == tuple(range(50))
        assert (s.processed, s.queued, s.dropped, s.queue_high_watermark) == (50, 0, 0, 4)
        assert s.backpressure_wait == pytest.approx(2.5)


async def test_processor_pause_then_host_resume_drains_in_order() -> None:
    def pauser(state: Any, chunk: Any) -> Any:
        seen = (*state.get(SEEN, ()), chunk)
        return result({SEEN: seen}, action="pause" if chunk == 2 else None)

    async with Provider(default_queue_capacity=10) as p:
        sid = p.start(pauser)
        await p.push_many(sid, range(6))
        await p.settle(sid)
        r = p.record(sid)
        assert r.status.value == "paused"
        assert r.state[SEEN] == (0, 1, 2)
        assert [e[1] for e in r.queue] == [3, 4, 5]
        p.resume(sid)
        await p.settle(sid)
        assert r.status.value == "active"
        assert r.state[SEEN] == (0, 1, 2, 3, 4, 5)


async def test_cancel_discards_queue_counts_it_and_releases_waiting_producer() -> None:
    async with Provider(default_queue_capacity=3) as p:
        sid = p.start(counter)
        p.pause(sid)
        await p.push_many(sid, range(3))
        blocked = asyncio.create_task(p.push(sid, "waiting"))
        await asyncio.sleep(0)
        assert not blocked.done()
        p.cancel(sid)
        with pytest.raises(StreamClosedError, match="cancelled; the chunk was dropped"):
            await blocked
        s = p.record(sid).statistics()
        assert (s.processed, s.queued, s.dropped) == (0, 0, 4)
        assert p.record(sid).status.value == "cancelled"


@pytest.mark.parametrize("directive", ["cancel", "stop", "complete"])
async def test_terminal_stream_drops_and_tells_caller(directive: str) -> None:
    async with Provider() as p:
        sid = p.start(counter)
        await p.push(sid, 1)
        await p.settle(sid)
        getattr(p, directive)(sid)
        with pytest.raises(StreamClosedError, match="dropped"):
            await p.push(sid, 2)
        with pytest.raises(StreamClosedError):
            p.push_nowait(sid, 3)
        with pytest.raises(StreamClosedError, match="cannot pause"):
            p.pause(sid)
        s = p.record(sid).statistics()
        assert (s.processed, s.dropped) == (1, 2)


async def test_push_nowait_raises_queue_full_and_takes_nothing() -> None:
    async with Provider(default_queue_capacity=2) as p:
        sid = p.start(counter)
        p.pause(sid)
        p.push_nowait(sid, 1)
        p.push_nowait(sid, 2)
        with pytest.raises(QueueFullError, match="queue full"):
            p.push_nowait(sid, 3)
        s = p.record(sid).statistics()
        assert (s.queued, s.dropped, p.record(sid).seq) == (2, 0, 2)


async def test_pause_resume_idempotent_and_unknown_stream() -> None:
    async with Provider() as p:
        sid = p.start(counter)
        p.resume(sid)
        p.pause(sid)
        p.pause(sid)
        assert p.record(sid).status.value == "paused"
        with pytest.raises(UnknownStreamError, match="no stream with id 'nope'"):
            p.pause("nope")
        with pytest.raises(DuplicateStreamError):
            p.start(counter, stream_id=sid)


async def test_meta_only_for_three_argument_processors() -> None:
    clock = FakeClock(50.0)
    seen: list[Any] = []
    async with Provider(clock=clock) as p:

        def three_args(state: Any, chunk: Any, meta: Any) -> Any:
            seen.append(meta)
            return state

        def two_args(state: Any, chunk: Any) -> Any:
            seen.append("two")
            return state

        three = p.start(three_args, stream_id="three")
        two = p.start(two_args, stream_id="two")
        await p.push(three, "x", meta={K("line"): 7})
        await p.push(two, "y")
        await p.settle()
    assert seen == [
        {K("line"): 7, K("stream-id"): "three", K("seq"): 1, K("source"): "host", K("received-at"): 50.0},
        "two",
    ]


async def test_processor_arity_checked_at_start() -> None:
    async with Provider() as p:
        with pytest.raises(UsageError, match="must take 2 or 3 positional arguments"):
            p.start(lambda s: s)


async def test_end_input_runs_on_end_then_completes() -> None:
    got: list[Any] = []

    def on_end(state: Any, meta: dict[Keyword, Any]) -> Any:
        return result(output={K("total"): state[N], K("seq"): meta[K("seq")]})

    async with Provider() as p:
        p.add_sink(lambda o: got.append(o.value))
        sid = p.start(counter, on_end=on_end)
        p.pause(sid)
        await p.push_many(sid, range(3))
        p.end_input(sid)
        await asyncio.sleep(0)
        assert p.record(sid).status.value == "paused", "the end waits for resume"
        p.resume(sid)
        await p.wait(sid)
        assert p.record(sid).status.value == "completed"
    assert got == [{K("total"): 3, K("seq"): 3}]


async def test_failing_on_end_is_an_error() -> None:
    async with Provider() as p:
        sid = p.start(counter, on_end=lambda state: 1 / 0)
        p.end_input(sid)
        await p.wait(sid)
        r = p.record(sid)
        assert r.status.value == "error"
        assert r.message is not None and "on-end" in r.message and "ZeroDivisionError" in r.message


async def test_outputs_iterator_and_failing_sink() -> None:
    async with Provider() as p:
        sid = p.start(collect, stream_id="a")
        it = p.outputs(sid)
        await p.push_many(sid, "abc")
        p.end_input(sid)
        assert [o.value async for o in it] == ["a", "b", "c"]

        def broken(out: Output) -> None:
            raise OSError("disk full")

        p.add_sink(broken)
        other = p.start(collect, stream_id="b")
        await p.push(other, 1)
        await p.wait(other)
        r = p.record(other)
        assert r.status.value == "error"
        assert (
            r.message
            == "chunk 1: output sink test_outputs_iterator_and_failing_sink.<locals>.broken failed: OSError: disk full"
        )


async def test_stats_field_by_field() -> None:
    clock = FakeClock(10.0)

    def proc(state: Any, chunk: Any) -> Any:
        clock.now += 0.5
        return result(counter(state, chunk), outputs=[chunk] * chunk)

    async with Provider(default_queue_capacity=5, clock=clock) as p:
        sid = p.start(proc)
        p.pause(sid)
        await p.push_many(sid, [1, 2, 0])
        p.resume(sid)
        await p.settle(sid)
        p.cancel(sid)
        with pytest.raises(StreamClosedError):
            await p.push(sid, 9)
        assert p.record(sid).statistics()._asdict() == {
            "processed": 3,
            "queued": 0,
            "dropped": 1,
            "errors": 0,
            "outputs": 3,
            "last_latency": pytest.approx(1.5),
            "last_event_time": pytest.approx(11.5),
            "queue_high_watermark": 3,
            "backpressure_wait": 0.0,
            "skipped": 0,
            "dead_lettered": 0,
            "timers_run": 0,
        }


async def test_inspect_one_and_all() -> None:
    async with Provider() as p:
        sid = p.start(counter, stream_id="x", initial_state={N: 5}, options={K("tag"): 1})
        p.pause(sid)
        await p.push(sid, "c", meta={K("line"): 1})
        one = p.inspect(sid, include_state=True, include_queue=True)
        assert one["status"] == "paused" and one["processor"] == "counter"
        assert one["state"] == {N: 5} and one["options"] == {K("tag"): 1}
        assert one["queue"] == [
            {"seq": 1, "received_at": one["queue"][0]["received_at"], "chunk": "c", "meta": {K("line"): 1}}
        ]
        assert one["stats"]["queued"] == 1
        assert "state" not in p.inspect(sid)
        p.start(counter, stream_id="y")
        every = p.inspect()
        assert every["total"] == 2
        assert every["by_status"]["paused"] == 1 and every["by_status"]["active"] == 1
        assert set(every["streams"]) == {"x", "y"}


async def test_close_stops_intake_and_keeps_queue() -> None:
    p = Provider(default_queue_capacity=2)
    sid = p.start(counter)
    p.pause(sid)
    await p.push_many(sid, [1, 2])
    blocked = asyncio.create_task(p.push(sid, 3))
    await asyncio.sleep(0)
    await p.close()
    with pytest.raises(StreamClosedError, match="shut down"):
        await blocked
    assert p.record(sid).status.value == "paused"
    assert len(p.record(sid).queue) == 2
    with pytest.raises(UsageError, match="closed"):
        p.start(counter)
    await p.wait()


async def test_checkpoint_hook_awaited_before_next_chunk() -> None:
    order: list[str] = []

    def proc(state: Any, chunk: Any) -> Any:
        order.append(f"chunk {chunk}")
        return result(state, action="checkpoint" if chunk == 1 else None)

    def hook(record: Any) -> Any:
        order.append(f"snapshot at {record.processed}")

        async def write() -> None:
            await asyncio.sleep(0)
            order.append("written")

        return write()

    async with Provider(on_checkpoint=hook) as p:
        sid = p.start(proc)
        await p.push_many(sid, [1, 2])
        await p.settle(sid)
    assert order == ["chunk 1", "snapshot at 1", "written", "chunk 2"]


async def test_a_huge_int_meeting_a_float_puts_that_stream_in_error_with_the_language_message() -> None:
    script = load_script("(defn add [s c] {:sum (+ (:sum s 0.5) c)})", filename="add.rtfs")
    async with Provider() as p:
        bad = p.start(script.processor("add"), stream_id="bad")
        good = p.start(script.processor("add"), stream_id="good")
        await p.push(bad, 10**400)
        await p.push(good, 1)
        p.end_input(good)
        await p.wait()
        b, g = p.record(bad), p.record(good)
        assert b.status.value == "error" and g.status.value == "completed"
        assert b.message is not None
        assert b.message.startswith("chunk 1: add.rtfs:1:")
        assert b.message.endswith("+: an integer of 401 digits is too large for a float"), b.message
        assert g.state == {K("sum"): 1.5}
