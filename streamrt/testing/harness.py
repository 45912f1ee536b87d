"""A real :class:`~streamrt.runtime.provider.Provider` stream driven step by step, with the runtime's promises checked.

Theory of operation
-------------------
:class:`StreamHarness` owns an event loop and a provider with one stream under test. Synchronous code (a hypothesis
state machine, a property run, an example test of ``streamrt test``) calls :meth:`~StreamHarness.push`,
:meth:`~StreamHarness.directive` and :meth:`~StreamHarness.end_input`; each runs the loop until the stream has
settled. The provider runs on a :class:`~streamrt.testing.clock.FakeClock` that only :meth:`~StreamHarness.advance`
moves, so timers fire exactly when a test says. The processor and the ``:on-end`` function are wrapped so the harness sees every call: which chunk came,
in which status, and what the result made of the state. The checks then compare what the provider reports with
what the harness saw:

- chunks reach the processor in arrival order, each exactly once, and only while the stream is active (timer
  chunks too, and they are counted apart from chunks);
- nothing is processed once the stream is terminal, and a terminal status never changes;
- ``processed + queued + dropped`` equals the chunks offered (refused ones included), outputs are numbered 1..n;
- the state changes only through the processor's (or ``:on-end``'s) valid results;
- the queue never holds more than its capacity;
- a processor that raises puts its stream in ``:error`` with a message, and a bystander stream in the same provider
  (when asked for) carries on untouched.

Violations seen inside the wrappers are recorded, not raised, so a broken runtime cannot hide them by turning them
into a stream error.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from streamrt.errors import QueueFullError, StreamClosedError, StreamrtError
from streamrt.meta import KIND, SEQ
from streamrt.runtime.contract import interpret
from streamrt.runtime.machine import Status
from streamrt.runtime.outputs import Output
from streamrt.runtime.provider import Provider, takes_meta
from streamrt.runtime.timers import TIMER_KIND
from streamrt.sources.base import Source
from streamrt.testing.clock import FakeClock
from streamrt.values import Keyword

__all__ = ["PushResult", "StreamHarness"]

PushResult = Literal["accepted", "refused", "full"]
"""What became of a chunk: queued; refused because the stream is over (counted as dropped); or not taken because
the paused stream's queue is full (not counted: the producer keeps it)."""

_K = Keyword


_N: Final = Keyword("n")


def _count_chunks(state: Any, chunk: Any) -> Any:
    """The bystander's processor: counts what it sees."""
    return {_N: state[_N] + 1}


class StreamHarness:
    """One stream of a real provider, driven from synchronous code; see the module docstring.

    Call :meth:`start` first and :meth:`close` at the end (it closes the provider and the loop).
    """

    def __init__(
        self,
        processor: Callable[..., Any],
        *,
        initial_state: Any = None,
        queue_capacity: int = 4,
        on_end: Callable[..., Any] | None = None,
        processor_name: str | None = None,
        options: Mapping[Keyword, Any] | None = None,
        bystander: bool = False,
    ) -> None:
        self.processor = processor
        self.name: str = processor_name or str(getattr(processor, "__name__", "processor"))
        self.initial_state = initial_state
        self.capacity = queue_capacity
        self.on_end = on_end
        self.options = options
        self._with_meta = takes_meta(processor)
        self._end_with_meta = takes_meta(on_end, (1, 2), "on-end function") if on_end is not None else False
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        self.provider = Provider(default_queue_capacity=queue_capacity, clock=self.clock)
        self.sid = ""
        self.tracking = True
        """Whether chunks come through :meth:`push` (so the harness knows each one); False with a source."""
        self.accepted: list[Any] = []
        self.attempts = 0
        self.seen: list[int] = []
        self.seen_chunks: list[Any] = []
        self.timers_seen = 0
        self.outputs: list[Output] = []
        self.failures: list[BaseException] = []
        """Exceptions the processor or ``:on-end`` raised, in order (located script errors for script code)."""
        self.violations: list[str] = []
        self.expected_state: Any = None
        self.terminal: Status | None = None
        self.frozen_processed: int | None = None
        self._bystander = bystander
        self.bystander_id: str | None = None
        self.bystander_pushed = 0

    # --- wrappers the provider calls ------------------------------------------------------------------------------

    def _process(self, state: Any, chunk: Any, meta: dict[Keyword, Any]) -> Any:
        record = self.provider.record(self.sid)
        if record.status is not Status.ACTIVE:
            self.violations.append(f"the processor was called while the stream was {record.status.value}")
        seq = meta[SEQ]
        self.seen_chunks.append(chunk)
        if meta.get(KIND) == TIMER_KIND:
            self.timers_seen += 1
            if seq != (self.seen[-1] if self.seen else 0):
                self.violations.append(
                    f"a timer ran after chunk {seq}, but the last chunk processed was another"
                )
        else:
            if self.tracking and not (0 < seq <= len(self.accepted) and self.accepted[seq - 1] is chunk):
                self.violations.append(f"chunk {seq} is not the chunk pushed as number {seq}")
            self.seen.append(seq)
        try:
            value = self.processor(state, chunk, meta) if self._with_meta else self.processor(state, chunk)
        except Exception as exc:
            self.failures.append(exc)
            raise
        with contextlib.suppress(StreamrtError):
            self.expected_state = interpret(value, state, self.name)[0]
        return value

    def _end(self, state: Any, meta: dict[Keyword, Any]) -> Any:
        assert self.on_end is not None
        try:
            value = self.on_end(state, meta) if self._end_with_meta else self.on_end(state)
        except Exception as exc:
            self.failures.append(exc)
            raise
        with contextlib.suppress(StreamrtError):
            self.expected_state = interpret(value, state, "on-end")[0]
        return value

    def _sink(self, output: Output) -> None:
        if output.stream_id == self.sid:
            self.outputs.append(output)

    # --- driving ----------------------------------------------------------------------------------------------

    def _run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def start(self, source: Source | None = None) -> str:
        """Start the stream (and the bystander); with ``source`` the stream reads it instead of :meth:`push`."""

        async def go() -> str:
            self.provider.add_sink(self._sink)
            sid = self.provider.start(
                self._process,
                initial_state=self.initial_state,
                processor_name=self.name,
                queue_capacity=self.capacity,
                on_end=self._end if self.on_end is not None else None,
                options=self.options,
                source=source,
            )
            if self._bystander:
                self.bystander_id = self.provider.start(
                    _count_chunks,
                    initial_state={_N: 0},
                    processor_name="bystander",
                    queue_capacity=self.capacity,
                )
            return sid

        self.tracking = source is None
        self.sid = self._run(go())
        self.expected_state = self.provider.record(self.sid).state
        return self.sid

    @property
    def status(self) -> Status:
        return self.provider.record(self.sid).status

    def settle(self) -> None:
        """Run the loop until every stream has done what it can with what it has."""
        self._run(self.provider.settle())
        self._observe()

    def _observe(self) -> None:
        record = self.provider.record(self.sid)
        if self.terminal is None and record.status.terminal:
            self.terminal = record.status
            self.frozen_processed = record.processed

    def push(self, chunk: Any, meta: dict[Keyword, Any] | None = None) -> PushResult:
        """Offer one chunk the way a producer would; the stream may process it before this returns."""
        result: PushResult = self._run(self._offer(chunk, meta))
        return result

    def push_many(self, chunks: list[Any], meta: dict[Keyword, Any] | None = None) -> list[PushResult]:
        """Offer chunks back to back without yielding to the loop, so they queue up (and a full queue is drained
        by the producer, as a fast source would see it); then settle."""

        async def offer_all() -> list[PushResult]:
            return [await self._offer(chunk, meta) for chunk in chunks]

        results: list[PushResult] = self._run(offer_all())
        self.settle()
        return results

    async def _offer(self, chunk: Any, meta: dict[Keyword, Any] | None) -> PushResult:
        record = self.provider.record(self.sid)
        if self.bystander_id is not None:
            self.bystander_pushed += 1
            await self.provider.push(self.bystander_id, {_N: self.bystander_pushed})
        if record.status.terminal:
            self.attempts += 1
            try:
                self.provider.push_nowait(self.sid, chunk, meta)
            except StreamClosedError:
                return "refused"
            self.violations.append(f"a chunk was accepted by a {record.status.value} stream")
            return "accepted"
        if record.status is Status.PAUSED and record.full:
            try:
                self.provider.push_nowait(self.sid, chunk, meta)
            except QueueFullError:
                return "full"
            self.violations.append("push_nowait accepted a chunk beyond the queue capacity")
            self.attempts += 1
            self.accepted.append(chunk)
            return "accepted"
        self.attempts += 1
        self.accepted.append(chunk)
        try:
            await self.provider.push(self.sid, chunk, meta)
        except StreamClosedError:
            # the producer drained a full queue itself and the stream ended meanwhile: refused, counted as dropped
            self.accepted.pop()
            if not self.status.terminal:
                self.violations.append(f"a {self.status.value} stream refused a chunk")
            return "refused"
        return "accepted"

    def directive(self, action: Keyword) -> bool:
        """Apply a host directive, then settle; whether the stream took it (a terminal stream refuses)."""
        terminal = self.status.terminal

        async def inside_loop() -> None:
            self.provider.directive(self.sid, action)

        try:
            self._run(inside_loop())
        except StreamClosedError:
            if not terminal:
                self.violations.append(f"a {self.status.value} stream refused the directive {action!r}")
            return False
        if terminal:
            self.violations.append(f"a terminal stream accepted the directive {action!r}")
        self.settle()
        return True

    def end_input(self) -> None:
        """No more chunks: the queue drains, ``:on-end`` runs and the stream completes (after a resume if paused)."""

        async def inside_loop() -> None:
            self.provider.end_input(self.sid)

        self._run(inside_loop())
        self.settle()

    def advance(self, ms: float) -> None:
        """Move the fake clock ``ms`` on, running every timer that comes due on the way, each in its place."""
        self._run(self.clock.advance_ms(ms, self.provider.settle))
        self._observe()

    def wait(self, timeout: float) -> bool:
        """Wait for the stream to end (a source feeds it); False when it is still live after ``timeout`` seconds."""

        async def until_done() -> bool:
            try:
                await asyncio.wait_for(self.provider.wait(self.sid), timeout)
            except TimeoutError:
                return False
            return True

        done: bool = self._run(until_done())
        self._observe()
        return done

    def close(self) -> None:
        """Close the provider and the loop; safe to call twice."""
        if self.loop.is_closed():
            return
        try:
            self._run(self.provider.close())
        finally:
            self.loop.close()

    # --- what happened ----------------------------------------------------------------------------------------

    def result(self) -> dict[Keyword, Any]:
        """The run as a language map: ``{:status :state :outputs :error :stats :chunks}``."""
        record = self.provider.record(self.sid)
        stats = record.statistics()
        return {
            _K("status"): record.status.keyword,
            _K("state"): record.state,
            _K("outputs"): tuple(o.value for o in self.outputs),
            _K("error"): record.message if record.status is Status.ERROR else None,
            _K("stats"): {
                _K("processed"): stats.processed,
                _K("queued"): stats.queued,
                _K("dropped"): stats.dropped,
                _K("errors"): stats.errors,
                _K("outputs"): stats.outputs,
                _K("timers"): stats.timers_run,
            },
            _K("chunks"): tuple(self.seen_chunks),
        }

    # --- the checks (each raises AssertionError with a message) ------------------------------------------------

    def check_recorded(self) -> None:
        assert not self.violations, self.violations[0]

    def check_order(self) -> None:
        seen = self.seen
        assert all(a < b for a, b in itertools.pairwise(seen)), f"chunks processed out of order: {seen}"

    def check_terminal(self) -> None:
        if not self.sid:
            return
        self._observe()
        record = self.provider.record(self.sid)
        if self.terminal is not None:
            assert record.status is self.terminal, (
                f"the stream left its terminal status {self.terminal.value} for {record.status.value}"
            )
            assert record.processed == self.frozen_processed, "a chunk was processed after a terminal status"

    def check_accounting(self) -> None:
        if not self.sid:
            return
        stats = self.provider.record(self.sid).statistics()
        if self.tracking:
            assert stats.processed + stats.queued + stats.dropped == self.attempts, (
                f"chunks unaccounted for: processed {stats.processed} + queued {stats.queued} + dropped "
                f"{stats.dropped} != {self.attempts} offered"
            )
        assert len(self.seen) == stats.processed, (
            f"the processor ran {len(self.seen)} times but the stream counts {stats.processed} processed"
        )
        assert self.timers_seen == stats.timers_run, (
            f"the processor ran {self.timers_seen} timers but the stream counts {stats.timers_run}"
        )
        numbers = [o.seq for o in self.outputs]
        assert numbers == list(range(1, len(numbers) + 1)), f"outputs numbered {numbers}"
        assert len(numbers) == stats.outputs, f"{len(numbers)} outputs seen, {stats.outputs} counted"

    def check_state(self) -> None:
        if self.sid:
            assert self.provider.record(self.sid).state is self.expected_state, (
                "the state changed other than through the processor's result"
            )

    def check_capacity(self) -> None:
        if self.sid:
            stats = self.provider.record(self.sid).statistics()
            assert stats.queued <= self.capacity, f"{stats.queued} chunks queued, capacity {self.capacity}"
            assert stats.queue_high_watermark <= self.capacity, "the queue went above its capacity"

    def check_errors(self) -> None:
        if not self.sid:
            return
        record = self.provider.record(self.sid)
        if self.failures:
            assert record.status is Status.ERROR, (
                f"the processor raised but the stream is {record.status.value}: {self.failures[-1]}"
            )
        if record.status is Status.ERROR:
            assert record.message, "the stream is in :error without a message"
        if self.bystander_id is not None:
            other = self.provider.record(self.bystander_id)
            assert other.status is Status.ACTIVE, (
                f"another stream went {other.status.value} ({other.message}) when this one did not"
            )
            assert other.state[_N] + len(other.queue) == self.bystander_pushed, (
                f"another stream processed {other.state[_N]} of {self.bystander_pushed} chunks"
            )

    def check(self) -> None:
        """Every check, in the order that gives the most telling message first."""
        self.check_recorded()
        self.check_order()
        self.check_terminal()
        self.check_accounting()
        self.check_state()
        self.check_capacity()
        self.check_errors()
