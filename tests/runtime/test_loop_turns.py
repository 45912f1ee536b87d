"""A batch's turn on the event loop (streamrt.lang.turn): the loop looks at the clock every ``pace`` chunks, a batch
whose turn is over stops, each stream learns its pace, a status change is seen at the next chunk, and a halt stops
a metered processor part way, its chunk put back first in the queue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from itertools import islice
from types import SimpleNamespace
from typing import Any

import pytest

from streamrt import Keyword, Provider, load_script
from streamrt.lang import turn
from streamrt.lang.turn import MAX_PACE, TURN, TURN_S, Turn, halt, unhalt
from streamrt.runtime.engine import Engine
from streamrt.runtime.events import EventHub
from streamrt.runtime.loops import loops_for
from streamrt.runtime.machine import Event, Status
from streamrt.runtime.stream import Program, StreamRecord

V = Keyword("v")


@pytest.fixture(autouse=True)
def _not_halted() -> Iterator[None]:
    yield
    unhalt()


def _record(proc: Callable[[Any, Any], Any], chunks: int) -> StreamRecord:
    program = Program(proc, name="p", takes_meta=False, shape="bare", loops=loops_for(False, "bare", None))
    rec = StreamRecord("s", program, initial_state={}, capacity=chunks)
    for i in range(chunks):
        rec.offer({V: i}, None, 0.0)
    return rec


def _batch(rec: StreamRecord) -> int:
    engine = Engine(clock=time.time, hub=EventHub(), persistence=None, on_checkpoint=None)
    entries = islice(iter(rec.queue.popleft, None), len(rec.queue))
    return rec.program.loops.queued(engine, rec, entries, None, 0.0, rec.seq - len(rec.queue))


def test_a_batch_whose_turn_is_over_stops_and_its_stream_looks_sooner() -> None:
    def slow(state: Any, chunk: Any) -> Any:
        time.sleep(TURN_S * 1.5)
        return state

    rec = _record(slow, 10)
    assert _batch(rec) == 1
    assert (rec.processed, len(rec.queue), rec.pace) == (1, 9, 1)
    assert TURN.spent, "the worker sends the stream to the back"


def test_a_fast_stream_learns_a_long_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    # the turn's clock is the chunks' own: each takes a microsecond, whatever else the machine is doing (on the real
    # clock a batch descheduled for a turn, 20 ms, on a loaded machine stopped early and the test failed)
    clock = [0.0]

    def fast(state: Any, chunk: Any) -> Any:
        clock[0] += 1e-6
        return state

    monkeypatch.setattr(turn, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    rec = _record(fast, 300)
    assert _batch(rec) == 300
    assert rec.pace > 300, "a look once in a while is enough"
    assert rec.pace <= MAX_PACE
    assert not TURN.spent


def test_the_first_look_comes_after_pace_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    looked: list[int] = []
    look = Turn.look

    def counting(turn: Turn, record: Any, seq: int, start: int) -> bool:
        looked.append(seq)
        return look(turn, record, seq, start)

    monkeypatch.setattr(Turn, "look", counting)
    rec = _record(lambda state, chunk: state, 40)
    rec.pace = 8
    assert _batch(rec) == 40
    assert looked[0] == 8, "no look before the stream's pace"
    assert len(looked) < 40


def test_a_status_change_is_seen_after_the_chunk() -> None:
    def pausing(state: Any, chunk: Any) -> Any:
        if chunk[V] == 2:
            rec.apply(Event.PAUSE)  # as a capability would, from inside the processor
        return state

    rec = _record(pausing, 10)
    rec.pace = MAX_PACE
    assert _batch(rec) == 3
    assert rec.status is Status.PAUSED and len(rec.queue) == 7


def test_a_halt_stops_an_unmetered_batch_at_the_next_chunk() -> None:
    def halting(state: Any, chunk: Any) -> Any:
        if chunk[V] == 4:
            halt()
        return state

    rec = _record(halting, 10)
    rec.pace = MAX_PACE
    assert _batch(rec) == 5
    assert (rec.processed, len(rec.queue)) == (5, 5)


async def test_a_halt_stops_a_metered_processor_part_way_and_keeps_its_chunk() -> None:
    script = load_script("(defn spin [state chunk] {:sum (reduce (fn [a x] (+ a x)) 0 (range (:n chunk)))})")
    async with Provider() as provider:
        sid = provider.start(script.processor("spin"), stream_id="spin")
        halt()
        await provider.push(sid, {Keyword("n"): 50_000})
        await asyncio.sleep(0.05)
        view = provider.inspect(sid, include_queue=True)
        assert view["status"] == "active" and view["stats"]["processed"] == 0
        assert [entry["seq"] for entry in view["queue"]] == [1], "the chunk waits, first, for a resume"
        unhalt()
        await provider.push(sid, {Keyword("n"): 10})
        await provider.settle(sid)
        assert provider.record(sid).state == {Keyword("sum"): 45}
        assert provider.inspect(sid)["stats"]["processed"] == 2
