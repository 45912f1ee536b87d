"""Making a stream's record from its spec: admission, the guard, the (shared) program, the record.

What a provider does between "start this processor with these options" and a record the engine can run: the id
(generated, or checked against the streams already there) and admission (a provider holds at most
``max_streams`` streams, so a script starting streams in a loop is refused by name instead of filling the
memory), the guard the spec's schemas and ``:on-error`` ask for (and the initial state checked against it), the
limits (the provider's, lowered by the spec's ``:limits``: never raised) and the program: the processor and
``:on-end`` as their metered variants, and the chunk loops generated for the configuration. Streams of one
processor without a guard share their program, which keeps an idle stream small.
"""

from __future__ import annotations

import functools
import itertools
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Final

from streamrt.errors import DuplicateStreamError, TooManyStreamsError, UsageError
from streamrt.lang.metered import metered
from streamrt.policy.guard import Guard
from streamrt.policy.limits import Limits, stream_limits
from streamrt.printer import pr_str
from streamrt.runtime.callables import is_script_function, name_of, result_shape, takes_meta
from streamrt.runtime.contract import STRICT, STRINGS
from streamrt.runtime.loops import loops_for
from streamrt.runtime.spec import StreamSpec
from streamrt.runtime.stream import Program, StreamRecord

__all__ = ["DEFAULT_MAX_STREAMS", "StreamBuilder"]

DEFAULT_MAX_STREAMS: Final = 10_000
"""Streams a provider holds at most (every stream it has, terminal ones included, until released)."""


class StreamBuilder:
    """Builds the records of one provider's streams (``streams``: the ones it has, for their ids)."""

    def __init__(
        self,
        streams: Mapping[str, StreamRecord],
        limits: Limits | None,
        default_queue_capacity: int,
        max_streams: int | None = DEFAULT_MAX_STREAMS,
    ) -> None:
        if limits is not None and not isinstance(limits, Limits):
            raise UsageError(f"limits must be a Limits or None, got {limits!r}")
        if type(default_queue_capacity) is not int or default_queue_capacity < 1:
            raise UsageError(
                f"default_queue_capacity must be a positive integer, got {default_queue_capacity!r}"
            )
        if max_streams is not None and (type(max_streams) is not int or max_streams < 1):
            raise UsageError(f"max_streams must be a positive integer or None, got {max_streams!r}")
        self.streams = streams
        self.max_streams = max_streams
        self.limits = limits
        self.default_queue_capacity = default_queue_capacity
        self._ids = itertools.count(1)
        self._programs: weakref.WeakValueDictionary[Any, Program] = weakref.WeakValueDictionary()

    def build(
        self,
        processor: Callable[..., Any],
        spec: StreamSpec,
        *,
        initial_state: Any,
        on_end: Callable[..., Any] | None,
        processor_name: str | None,
        source_kind: str,
    ) -> StreamRecord:
        """A stream's record, checked: its id, its program (metered variants, guard, loops) and its spec."""
        if not callable(processor):
            raise UsageError(f"processor must be callable, got {pr_str(processor)}")
        if on_end is not None:
            if not callable(on_end):
                raise UsageError(f"on_end must be callable, got {pr_str(on_end)}")
            takes_meta(on_end, (1, 2), "on-end function")
        name = processor_name or name_of(processor)
        stream_id = self.admit(spec.stream_id, name)
        guard = None
        if spec.guarded:
            guard = Guard(
                input=spec.input_schema,
                output=spec.output_schema,
                state=spec.state_schema,
                on_error=spec.on_error,
            )
            guard.check_initial(stream_id, initial_state)
        limits = stream_limits(self.limits, spec.limits)  # the provider's are ceilings
        program = self.program(processor, name, on_end, guard, limits, strict=spec.result == "strict")
        capacity = spec.queue_capacity or self.default_queue_capacity
        return StreamRecord(
            stream_id,
            program,
            initial_state=initial_state,
            spec=spec.kept(),
            capacity=capacity,
            source_kind=source_kind,
        )

    def program(
        self,
        processor: Callable[..., Any],
        name: str,
        on_end: Callable[..., Any] | None,
        guard: Guard | None,
        limits: Limits | None,
        *,
        strict: bool = False,
    ) -> Program:
        """The stream's program; streams with the same functions, limits and no guard share one."""
        key: Any = (processor, name, on_end, limits, strict)
        try:
            hash(key)
        except TypeError:  # an unhashable callable: its streams do not share
            key = None
        if guard is None and key is not None:
            shared = self._programs.get(key)
            if shared is not None:
                return shared
        meta, shape = takes_meta(processor), result_shape(processor)
        mode = 0 if is_script_function(processor) else STRINGS
        if strict:
            mode |= STRICT
            shape = None  # every result goes through the contract, which refuses a bare map
        program = Program(
            processor,
            name=name,
            takes_meta=meta,
            shape=shape,
            on_end=on_end,
            guard=guard,
            loops=loops_for(meta, shape, guard),
            max_state=None if limits is None else limits.max_state,
            result_mode=mode,
        )
        if limits is not None:
            # a script's functions run as their metered variant (host functions run as they are)
            program.processor = metered(
                processor, limits, when_ready=functools.partial(setattr, program, "processor")
            )
            if on_end is not None:
                program.on_end = metered(
                    on_end, limits, when_ready=functools.partial(setattr, program, "on_end")
                )
        if guard is None and key is not None:
            self._programs[key] = program
        return program

    def admit(self, stream_id: str | None, name: str) -> str:
        """The id a new stream gets, once it may join: not past ``max_streams``, nor a duplicate."""
        streams = self.streams
        cap = self.max_streams
        if cap is not None and len(streams) >= cap:
            raise TooManyStreamsError(
                f"cannot start {'a stream' if stream_id is None else repr(stream_id)}: the provider holds its "
                f"maximum of {cap:,} streams (raise it with --max-streams N, or Provider(max_streams=N))"
            )
        if stream_id is None:
            stream_id = f"{name}-{next(self._ids)}"
            while stream_id in streams:
                stream_id = f"{name}-{next(self._ids)}"
        elif stream_id in streams:
            raise DuplicateStreamError(f"a stream with id {stream_id!r} already exists")
        return stream_id
