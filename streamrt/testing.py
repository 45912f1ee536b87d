"""Property-testing helpers for processors: hypothesis strategies and a provider state machine.

``provider_machine(processor)`` returns a :class:`hypothesis.stateful.RuleBasedStateMachine` subclass that drives
a real :class:`~streamrt.runtime.provider.Provider` with your processor through random interleavings of chunks and
host directives, and checks after every step that the runtime kept its promises:

- chunks reach the processor in arrival order, each exactly once;
- nothing is processed once the stream is in a terminal status;
- ``processed + queued + dropped`` equals the chunks pushed (including those refused because the stream ended);
- the state changes only through the processor's results;
- the queue never holds more than its capacity.

The provider is asyncio-based; each machine owns an event loop created in ``__init__`` and closed in
``teardown``, and every rule runs it until the stream has settled. See docs/testing.md for an example.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from streamrt.errors import QueueFullError, StreamClosedError, StreamrtError
from streamrt.runtime.contract import interpret
from streamrt.runtime.machine import KNOWN_ACTIONS, Status
from streamrt.runtime.provider import Provider, takes_meta
from streamrt.values import Keyword

__all__ = ["chunks", "directive_sequences", "directives", "keywords", "provider_machine"]

_SEQ = Keyword("seq")


def keywords() -> st.SearchStrategy[Keyword]:
    """Short plain keywords such as ``:a``, ``:temp-2``."""
    return st.from_regex(r"[a-z][a-z0-9\-]{0,7}", fullmatch=True).map(Keyword)


def chunks(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Language values as a source would deliver them: scalars, vectors and maps with keyword keys."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**53), max_value=2**53)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=16)
        | keywords()
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4).map(tuple) | st.dictionaries(keywords(), inner, max_size=4),
        max_leaves=max_leaves,
    )


def directives(*, include_continue: bool = True) -> st.SearchStrategy[Keyword]:
    """The directive keywords (``:continue :pause :resume :cancel :complete :stop :checkpoint``)."""
    known = KNOWN_ACTIONS if include_continue else tuple(k for k in KNOWN_ACTIONS if k.name != "continue")
    return st.sampled_from(known)


def directive_sequences(min_size: int = 0, max_size: int = 20) -> st.SearchStrategy[list[Keyword]]:
    """Lists of directives, e.g. to script a processor's actions or a host's commands."""
    return st.lists(directives(), min_size=min_size, max_size=max_size)


def provider_machine(
    processor: Callable[..., Any],
    *,
    initial_state: Any = None,
    queue_capacity: int = 4,
    chunk_values: st.SearchStrategy[Any] | None = None,
) -> type[RuleBasedStateMachine]:
    """A state machine class checking the runtime's invariants around ``processor``.

    Use it as ``TestMyProcessor = provider_machine(my_processor).TestCase``.
    """
    with_meta = takes_meta(processor)
    name = getattr(processor, "__name__", "processor")
    values = chunks() if chunk_values is None else chunk_values

    class ProviderMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.provider = Provider(default_queue_capacity=queue_capacity)
            self.accepted: list[Any] = []
            self.attempts = 0
            self.seen: list[int] = []
            self.expected_state: Any = None
            self.frozen_processed: int | None = None
            self.sid = ""

        def _process(self, state: Any, chunk: Any, meta: dict[Keyword, Any]) -> Any:
            record = self.provider.record(self.sid)
            assert record.status is Status.ACTIVE, f"processor called while {record.status.value}"
            seq = meta[_SEQ]
            assert self.accepted[seq - 1] is chunk, f"chunk {seq} is not the chunk pushed as number {seq}"
            self.seen.append(seq)
            value = processor(state, chunk, meta) if with_meta else processor(state, chunk)
            with contextlib.suppress(StreamrtError):
                self.expected_state = interpret(value, state, name)[0]
            return value

        def _run(self, coro: Any) -> Any:
            return self.loop.run_until_complete(coro)

        async def _push_nowait(self, chunk: Any) -> None:
            self.provider.push_nowait(self.sid, chunk)

        def _settle(self) -> None:
            self._run(self.provider.settle(self.sid))

        @property
        def _record(self) -> Any:
            return self.provider.record(self.sid)

        @initialize()
        def start(self) -> None:
            async def go() -> str:
                return self.provider.start(
                    self._process,
                    initial_state=initial_state,
                    processor_name=name,
                    queue_capacity=queue_capacity,
                )

            self.sid = self._run(go())
            self.expected_state = self._record.state

        def _push(self, chunk: Any) -> None:
            record = self._record
            status = record.status
            self.attempts += 1
            if status.terminal:
                try:
                    self._run(self._push_nowait(chunk))
                except StreamClosedError:
                    return
                raise AssertionError("a chunk for a terminal stream was accepted")
            if status is Status.PAUSED and record.full:
                self.attempts -= 1
                try:
                    self._run(self._push_nowait(chunk))
                except QueueFullError:
                    return
                raise AssertionError("push_nowait accepted a chunk beyond the queue capacity")
            self.accepted.append(chunk)
            self._run(self.provider.push(self.sid, chunk))

        @rule(chunk=values)
        def push(self, chunk: Any) -> None:
            self._push(chunk)
            self._settle()

        @rule(batch=st.lists(values, min_size=2, max_size=2 * queue_capacity))
        def push_several(self, batch: list[Any]) -> None:
            for chunk in batch:
                self._push(chunk)
            self._settle()

        def _directive(self, apply: Callable[[str], None]) -> None:
            terminal = self._record.status.terminal

            async def inside_loop() -> None:
                apply(self.sid)

            try:
                self._run(inside_loop())
            except StreamClosedError:
                assert terminal, "a live stream refused a directive"
                return
            assert not terminal, "a terminal stream accepted a directive"
            self._settle()

        @rule()
        def pause(self) -> None:
            self._directive(self.provider.pause)

        @rule()
        def resume(self) -> None:
            self._directive(self.provider.resume)

        @rule(directive=st.sampled_from(["cancel", "stop", "complete"]))
        def finish(self, directive: str) -> None:
            self._directive(getattr(self.provider, directive))

        @precondition(lambda self: self.sid and not self._record.input_ended)
        @rule()
        def end_input(self) -> None:
            async def inside_loop() -> None:
                self.provider.end_input(self.sid)

            self._run(inside_loop())
            self._settle()

        @invariant()
        def arrival_order_kept(self) -> None:
            seen = self.seen
            assert all(a < b for a, b in itertools.pairwise(seen)), f"out of order: {seen}"

        @invariant()
        def nothing_processed_after_terminal(self) -> None:
            if not self.sid:
                return
            record = self._record
            if record.status.terminal:
                if self.frozen_processed is None:
                    self.frozen_processed = record.processed
                assert record.processed == self.frozen_processed, "processed after a terminal status"

        @invariant()
        def every_chunk_accounted_for(self) -> None:
            if not self.sid:
                return
            stats = self._record.statistics()
            assert stats.processed + stats.queued + stats.dropped == self.attempts, (stats, self.attempts)
            assert len(self.seen) == stats.processed

        @invariant()
        def state_changes_only_through_processor(self) -> None:
            if self.sid:
                assert self._record.state is self.expected_state

        @invariant()
        def queue_within_capacity(self) -> None:
            if self.sid:
                stats = self._record.statistics()
                assert stats.queued <= queue_capacity
                assert stats.queue_high_watermark <= queue_capacity

        def teardown(self) -> None:
            try:
                self._run(self.provider.close())
            finally:
                self.loop.close()

    ProviderMachine.__name__ = ProviderMachine.__qualname__ = f"ProviderMachine[{name}]"
    return ProviderMachine
