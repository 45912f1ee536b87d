"""Per-stream schemas and error policy: what a chunk, a result and ``:on-end`` must satisfy, and what a failure does.

Theory of operation
-------------------
This module decides, the runtime carries out. A stream with no schema and the default ``:on-error :fail`` has no
:class:`Guard` and runs the runtime's plain chunk loop. Any other stream gets one, and its chunk loop is generated
with the checks in it (:mod:`streamrt.runtime.loops`):

1. the chunk against ``:input-schema`` (before the processor runs);
2. the processor, and the result contract (a bad shape or an unknown action is a failure like an exception);
3. the new state against ``:state-schema`` and each output against ``:output-schema``
   (:meth:`Guard.check_result`).

Only when all of that passed are the outputs emitted and the new state and action applied, so a failed chunk emits
nothing and leaves the state as it was. A failure then goes where :class:`OnError` says:

- ``:fail``: the stream goes to ``:error`` with the message (the queue is discarded, as for any failure);
- ``:skip``: the chunk is counted (``skipped``, and ``errors``) and the stream goes on with the state it had;
- ``:dead-letter``: as ``:skip``, and the chunk, its metadata, seq and the message are kept as a dead letter (in
  the store when the stream is persisted, else in memory, the newest :data:`MEMORY_DEAD_LETTERS` of them).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Final

from streamrt.errors import UsageError
from streamrt.printer import pr_str
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.policy.schema import Schema

__all__ = ["MEMORY_DEAD_LETTERS", "Guard", "OnError"]

MEMORY_DEAD_LETTERS: Final = 1000
"""Dead letters a stream without a store keeps in memory; older ones are dropped and counted."""


class OnError(enum.Enum):
    """What a stream does when a chunk fails (a processor error, a contract or schema violation, a limit)."""

    FAIL = "fail"
    SKIP = "skip"
    DEAD_LETTER = "dead-letter"

    @property
    def keyword(self) -> Keyword:
        return Keyword(self.value)

    @classmethod
    def parse(cls, value: Any) -> OnError:
        """``:skip``, ``"skip"`` or ``OnError.SKIP``; anything else is a UsageError listing the choices."""
        if isinstance(value, OnError):
            return value
        name = value.qualified if type(value) is Keyword else value
        for policy in cls:
            if name == policy.value:
                return policy
        choices = " ".join(p.keyword.__repr__() for p in cls)
        raise UsageError(f":on-error must be one of {choices}, not {pr_str(value)}")


class Guard:
    """One stream's schemas and error policy."""

    __slots__ = ("input", "on_error", "output", "state")

    def __init__(
        self,
        *,
        input: Schema | None = None,
        output: Schema | None = None,
        state: Schema | None = None,
        on_error: OnError = OnError.FAIL,
    ) -> None:
        self.input = input
        self.output = output
        self.state = state
        self.on_error = on_error

    @property
    def checks_results(self) -> bool:
        """Whether a chunk's new state or outputs are checked (a state or an output schema)."""
        return self.state is not None or self.output is not None

    def check_initial(self, stream_id: str, state: Any) -> None:
        """Refuse to start a stream whose initial state does not match its ``:state-schema``."""
        if self.state is not None and not self.state.check(state):
            raise self.state.violation(state, stream_id=stream_id, subject="the initial state")

    def check_end(self, stream_id: str, state: Any, outputs: tuple[Any, ...]) -> None:
        """Check what ``:on-end`` returned before any of it is applied (on-end failures always fail the stream)."""
        if self.state is not None and not self.state.check(state):
            raise self.state.violation(state, stream_id=stream_id, subject="the state returned by :on-end")
        output = self.output
        if output is not None:
            for i, value in enumerate(outputs, 1):
                if not output.check(value):
                    raise output.violation(value, stream_id=stream_id, subject=f"output {i} of :on-end")

    def check_input(self, stream_id: str, seq: int, chunk: Any) -> None:
        """Raise the violation of a chunk that does not match ``:input-schema`` (the loop checked it already)."""
        if self.input is not None and not self.input.check(chunk):
            raise self.input.violation(chunk, stream_id=stream_id, subject=f"chunk {seq}", seq=seq)

    def check_result(self, stream_id: str, seq: int, state: Any, outputs: tuple[Any, ...]) -> None:
        """Check a chunk's new state and outputs (only called when the stream has a state or output schema)."""
        if self.state is not None and not self.state.check(state):
            raise self.state.violation(
                state, stream_id=stream_id, subject=f"the state after chunk {seq}", seq=seq
            )
        output = self.output
        if output is not None:
            for i, value in enumerate(outputs, 1):
                if not output.check(value):
                    raise output.violation(
                        value, stream_id=stream_id, subject=f"output {i} of chunk {seq}", seq=seq
                    )
