"""``provider_machine``: a hypothesis state machine around a processor, checking the runtime's invariants.

The machine drives a :class:`~streamrt.testing.harness.StreamHarness` (a real provider in its own event loop, on a
fake clock) through random interleavings of chunks, host directives and moves of the clock (so the timers a
processor sets run among the rest); the invariants are the harness's checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from streamrt.testing.harness import StreamHarness
from streamrt.testing.strategies import chunks
from streamrt.values import Keyword

__all__ = ["provider_machine"]


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
    name = getattr(processor, "__name__", "processor")
    values = chunks() if chunk_values is None else chunk_values

    class ProviderMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.harness = StreamHarness(
                processor, initial_state=initial_state, queue_capacity=queue_capacity, processor_name=name
            )

        @property
        def provider(self) -> Any:
            return self.harness.provider

        @initialize()
        def start(self) -> None:
            self.harness.start()

        @rule(chunk=values)
        def push(self, chunk: Any) -> None:
            self.harness.push(chunk)
            self.harness.settle()

        @rule(batch=st.lists(values, min_size=2, max_size=2 * queue_capacity))
        def push_several(self, batch: list[Any]) -> None:
            self.harness.push_many(batch)

        @rule(ms=st.integers(0, 5000))
        def advance_clock(self, ms: int) -> None:
            self.harness.advance(ms)

        @rule()
        def pause(self) -> None:
            self.harness.directive(Keyword("pause"))

        @rule()
        def resume(self) -> None:
            self.harness.directive(Keyword("resume"))

        @rule(directive=st.sampled_from(["cancel", "stop", "complete"]))
        def finish(self, directive: str) -> None:
            self.harness.directive(Keyword(directive))

        @precondition(
            lambda self: self.harness.sid and not self.harness.provider.record(self.harness.sid).input_ended
        )
        @rule()
        def end_input(self) -> None:
            self.harness.end_input()

        @invariant()
        def nothing_odd_seen_by_the_processor(self) -> None:
            self.harness.check_recorded()

        @invariant()
        def arrival_order_kept(self) -> None:
            self.harness.check_order()

        @invariant()
        def nothing_processed_after_terminal(self) -> None:
            self.harness.check_terminal()

        @invariant()
        def every_chunk_accounted_for(self) -> None:
            self.harness.check_accounting()

        @invariant()
        def state_changes_only_through_processor(self) -> None:
            self.harness.check_state()

        @invariant()
        def queue_within_capacity(self) -> None:
            self.harness.check_capacity()

        @invariant()
        def a_raising_processor_errors_its_stream(self) -> None:
            self.harness.check_errors()

        def teardown(self) -> None:
            self.harness.close()

    ProviderMachine.__name__ = ProviderMachine.__qualname__ = f"ProviderMachine[{name}]"
    return ProviderMachine
