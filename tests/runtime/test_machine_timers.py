"""``provider_machine`` moves the fake clock too: a processor's timers run among random chunks and directives, and
the runtime's invariants hold (timer runs counted apart from chunks, never while paused or after the end)."""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from streamrt.meta import KIND
from streamrt.runtime.contract import result
from streamrt.testing import provider_machine
from streamrt.values import Keyword

K = Keyword
BUF, FLUSHED = K("buf"), K("flushed")
RUNS: list[int] = []


def buffer_then_flush(state: Any, chunk: Any, meta: Any) -> Any:
    """Buffers chunks; 100 ms after the last one, emits them all."""
    state = state or {BUF: (), FLUSHED: 0}
    if meta.get(KIND) == "timer":
        RUNS.append(1)
        return result({BUF: (), FLUSHED: state[FLUSHED] + len(state[BUF])}, output=state[BUF])
    return result({**state, BUF: (*state[BUF], chunk)}, timers={K("flush"): 100})


def test_the_provider_machine_runs_timers_among_chunks_and_directives() -> None:
    machine = provider_machine(buffer_then_flush)
    run_state_machine_as_test(
        machine, settings=settings(max_examples=60, stateful_step_count=25, deadline=None)
    )
