"""What the generated chunk loops cost per chunk, counted in bytecodes executed: a slowdown shows without a timer.

Each configuration's loop runs a batch of ``N`` and of ``2N`` chunks under ``sys.settrace`` with opcode events,
counting only the loop's own frame (not the processor's); the difference divided by ``N`` is what one more chunk
costs, whatever the loop does once per batch. The budgets are what the loops cost when this was written, on the
interpreter named in ``MEASURED_ON``: there the count must be exactly the budget (a cheaper loop updates it, a
dearer one is a regression to explain); on other versions, whose bytecode differs, it must not exceed it.

``ceiling`` is the tightest loop there can be, ``for seq, chunk in chunks: state = proc(state, chunk)``; the
commonest stream (a script processor whose results are bare maps, fed by ``push_many``) costs only the check of
its status and the try block that catches a processor's failure on top of that.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

import pytest

from streamrt.policy.guard import Guard, OnError
from streamrt.policy.schema import compile_schema
from streamrt.runtime.engine import Engine
from streamrt.runtime.events import EventHub
from streamrt.runtime.loops import LoopKey, chunk_loop, loops_for
from streamrt.runtime.stream import Program, StreamRecord
from streamrt.values import Keyword

K = Keyword
N = 40
STATE, V = K("state"), K("v")
MEASURED_ON = (3, 11)

BUDGETS: dict[str, tuple[LoopKey, int]] = {
    "handoff, bare (the commonest)": (LoopKey(queued=False, shape="bare"), 19),
    "handoff, checked": (LoopKey(queued=False), 34),
    "handoff, {:state x}": (LoopKey(queued=False, shape="state"), 25),
    "handoff, meta": (LoopKey(queued=False, meta=True), 47),
    "handoff, input schema": (LoopKey(queued=False, input=True), 40),
    "handoff, state schema": (LoopKey(queued=False, state=True), 40),
    "handoff, skip": (LoopKey(queued=False, fail=False), 34),
    "queued, bare": (LoopKey(shape="bare"), 21),
    "queued, checked": (LoopKey(), 36),
    "queued, {:state x}": (LoopKey(shape="state"), 27),
    "queued, meta": (LoopKey(meta=True), 49),
    "queued, input schema": (LoopKey(input=True), 42),
    "queued, state schema, skip": (LoopKey(state=True, fail=False), 42),
}
"""Each configuration and the bytecodes one chunk costs in its loop (see the module's docs). The four hand-kept
loops these replaced cost, in the same order: 21, 43, 32, 57, 49, 49, 43, 44, 59, 48, 73, 80 and 83."""


def _processor(key: LoopKey) -> Callable[..., Any]:
    """A processor whose every result takes the loop's fast path for ``key``."""
    if key.shape == "state":
        if key.meta:
            return lambda state, chunk, meta: {STATE: state}
        return lambda state, chunk: {STATE: state}
    if key.meta:
        return lambda state, chunk, meta: state
    return lambda state, chunk: state


def _record(key: LoopKey) -> StreamRecord:
    guard = None
    if key.input or key.state or key.output or not key.fail:
        guard = Guard(
            input=compile_schema("[:map [:v :int]]") if key.input else None,
            state=compile_schema(":map") if key.state else None,
            on_error=OnError.FAIL if key.fail else OnError.SKIP,
        )
    program = Program(
        _processor(key),
        name="p",
        takes_meta=key.meta,
        shape=key.shape,
        guard=guard,
        loops=loops_for(key.meta, key.shape, guard),
    )
    rec = StreamRecord("s", program, initial_state={K("n"): 0}, capacity=10 * N)
    # no look at the clock within the batches measured: a look costs once per ``pace`` chunks, not per chunk
    # (test_a_look_at_the_clock_comes_every_pace_chunks)
    rec.pace = 10 * N
    return rec


def _opcodes(run: Callable[[], Any], code: Any) -> int:
    """Bytecodes executed in frames of ``code`` while ``run`` runs."""
    count = 0

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "opcode":
            count += 1
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code is code:
            frame.f_trace_opcodes = True
            return local
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        run()
    finally:
        sys.settrace(previous)
    return count


def _batch(key: LoopKey, n: int) -> int:
    loop = chunk_loop(key)
    rec = _record(key)
    engine = Engine(clock=lambda: 0.0, hub=EventHub(), persistence=None, on_checkpoint=None)
    chunks = [{V: i} for i in range(n)]
    if key.queued:
        for chunk in chunks:
            rec.offer(chunk, None, 0.0)

        def run() -> int:
            entries = islice(iter(rec.queue.popleft, None), n)
            return loop(engine, rec, entries, None, 0.0, 0)

    else:

        def run() -> int:
            return loop(engine, rec, enumerate(chunks, 1), None, 0.0, 0)

    count = _opcodes(run, loop.__code__)
    assert rec.processed == n and rec.status.value == "active", "every chunk took the fast path"
    return count


def per_chunk(key: LoopKey) -> float:
    return (_batch(key, 2 * N) - _batch(key, N)) / N


def ceiling() -> float:
    """The tightest loop: no status check, no bookkeeping."""

    def bare(proc: Callable[[Any, Any], Any], chunks: Iterator[tuple[int, Any]]) -> Any:
        state: Any = {}
        for _seq, chunk in chunks:
            state = proc(state, chunk)
        return state

    def count(n: int) -> int:
        return _opcodes(lambda: bare(lambda s, c: s, enumerate(range(n), 1)), bare.__code__)

    return (count(2 * N) - count(N)) / N


@pytest.mark.parametrize("name", list(BUDGETS))
def test_a_chunk_costs_its_budget_of_bytecodes(name: str) -> None:
    key, budget = BUDGETS[name]
    cost = per_chunk(key)
    assert cost == int(cost), "every chunk of a batch costs the same"
    if sys.version_info[:2] == MEASURED_ON:
        assert cost == budget, f"{name}: {cost:g} bytecodes per chunk, budget {budget}"
    else:
        assert cost <= budget, f"{name}: {cost:g} bytecodes per chunk, budget {budget}"


def test_the_commonest_stream_costs_the_ceiling_and_its_status_check() -> None:
    key, _ = BUDGETS["handoff, bare (the commonest)"]
    status_check = (
        5  # the status and the turn: LOAD_FAST seq, LOAD_FAST rec, LOAD_ATTR look_at, COMPARE_OP, POP_JUMP
    )
    try_block = 2  # the NOP that opens it, the jump over its handler
    assert per_chunk(key) <= ceiling() + status_check + try_block


def test_every_configuration_is_generated_and_differs_from_the_others() -> None:
    keys = {key for key, _ in BUDGETS.values()}
    loops = {chunk_loop(key) for key in keys}
    assert len(loops) == len(keys)
    assert all(chunk_loop(key) is chunk_loop(key) for key in keys), "generated once per configuration"
