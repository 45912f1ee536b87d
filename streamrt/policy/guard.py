"""Per-stream schemas and error policy at run time: the :class:`Guard` and its per-chunk loop.

Theory of operation
-------------------
A stream with no schema and the default ``:on-error :fail`` has no guard (``record.guard is None``) and runs the
driver's plain loop, untouched: it pays nothing for this module. Any other stream gets a :class:`Guard`, and the
driver hands each of its batches to :meth:`Guard.run_batch` (a producer's direct hand-off to
:meth:`Guard.hand_off_batch`), a copy of the plain loop with the checks in it:

1. the chunk against ``:input-schema`` (before the processor runs);
2. the processor, and the result contract (a bad shape or an unknown action is a failure like an exception);
3. the new state against ``:state-schema`` and each output against ``:output-schema``.

Only when all of that passed are the outputs emitted and the new state and action applied, so a failed chunk emits
nothing and leaves the state as it was. A failure then goes where ``:on-error`` says:

- ``:fail``: the stream goes to ``:error`` with the message (the queue is discarded, as for any failure);
- ``:skip``: the chunk is counted (``skipped``, and ``errors``) and the stream goes on with the state it had;
- ``:dead-letter``: as ``:skip``, and the chunk, its metadata, seq and the message are kept: in the store when the
  stream is persisted (the stream waits for that write before its next chunk, so the snapshot that passes over the
  chunk is committed after its dead letter), otherwise in the guard, in memory, the newest
  ``MEMORY_DEAD_LETTERS`` of them (older ones are dropped and counted).

A crash after a dead letter was written but before the next snapshot makes a resumed stream process that chunk
again and write its dead letter twice: dead letters, like outputs, are at least once.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any, Final

from streamrt.errors import SchemaViolation, UsageError
from streamrt.meta import RECEIVED_AT as _RECEIVED_AT
from streamrt.meta import SEQ as _SEQ
from streamrt.meta import SOURCE as _SOURCE
from streamrt.meta import STREAM_ID as _STREAM_ID
from streamrt.policy.schema import Schema, compile_schema
from streamrt.runtime.batch import _ACTIVE, _Fault
from streamrt.runtime.callables import failure_text
from streamrt.runtime.contract import RESULT_KEYS, STATE, interpret
from streamrt.runtime.stream import StreamRecord
from streamrt.store.snapshot import DeadLetter
from streamrt.values import Keyword, pr_str

if TYPE_CHECKING:
    from streamrt.runtime.batch import ChunkLoops
    from streamrt.runtime.driver import _Stream

__all__ = [
    "INPUT_SCHEMA",
    "MEMORY_DEAD_LETTERS",
    "ON_ERROR",
    "OUTPUT_SCHEMA",
    "STATE_SCHEMA",
    "DeadLetterWriter",
    "Guard",
    "OnError",
    "build_guard",
]

INPUT_SCHEMA: Final = Keyword("input-schema")
OUTPUT_SCHEMA: Final = Keyword("output-schema")
STATE_SCHEMA: Final = Keyword("state-schema")
ON_ERROR: Final = Keyword("on-error")
MEMORY_DEAD_LETTERS: Final = 1000
"""Dead letters a stream without a store keeps in memory; older ones are dropped and counted."""

DeadLetterWriter = Callable[[StreamRecord, int, Any, Any, str], "Awaitable[None] | None"]
"""``(record, seq, chunk, meta, error)``: keep a dead letter in a store; ``None`` if this stream has none."""

_NO_OUTPUTS: Final[tuple[Any, ...]] = ()


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


def _fits(schema: Schema | None, value: Any) -> bool:
    return schema is None or schema.check(value)


class Guard:
    """One stream's schemas and error policy, and its in-memory dead letters."""

    __slots__ = ("dead_letters", "dead_letters_dropped", "input", "on_error", "output", "state")

    def __init__(
        self,
        *,
        input: Schema | None = None,
        output: Schema | None = None,
        state: Schema | None = None,
        on_error: OnError = OnError.FAIL,
        memory_limit: int = MEMORY_DEAD_LETTERS,
    ) -> None:
        self.input = input
        self.output = output
        self.state = state
        self.on_error = on_error
        self.dead_letters: deque[DeadLetter] = deque(maxlen=memory_limit)
        """Dead letters kept in memory (streams without a store), oldest first."""
        self.dead_letters_dropped = 0
        """Dead letters pushed out of :attr:`dead_letters` by newer ones."""

    def check_initial(self, stream_id: str, state: Any) -> None:
        """Refuse to start a stream whose initial state does not match its ``:state-schema``."""
        if self.state is not None and not self.state.check(state):
            raise self.state.violation(state, stream_id=stream_id, subject="the initial state")

    def check_end(self, s: StreamRecord, state: Any, outputs: tuple[Any, ...]) -> None:
        """Check what ``:on-end`` returned before any of it is applied (on-end failures always fail the stream)."""
        if self.state is not None and not self.state.check(state):
            raise self.state.violation(state, stream_id=s.id, subject="the state returned by :on-end")
        output = self.output
        if output is not None:
            for i, value in enumerate(outputs, 1):
                if not output.check(value):
                    raise output.violation(value, stream_id=s.id, subject=f"output {i} of :on-end")

    def check_result(self, sid: str, seq: int, state: Any, outputs: tuple[Any, ...]) -> None:
        """Check a chunk's new state and outputs (only called when the stream has a state or output schema)."""
        if self.state is not None and not self.state.check(state):
            raise self.state.violation(state, stream_id=sid, subject=f"the state after chunk {seq}", seq=seq)
        output = self.output
        if output is not None:
            for i, value in enumerate(outputs, 1):
                if not output.check(value):
                    raise output.violation(
                        value, stream_id=sid, subject=f"output {i} of chunk {seq}", seq=seq
                    )

    # --- the guarded loop ---------------------------------------------------------------------------------------

    def run_batch(self, d: ChunkLoops, s: _Stream) -> int:
        """The driver's ``_run_batch`` for a guarded stream: same order and bookkeeping, plus checks and policy."""
        if s.pending is not None:
            return 0
        queue = s.queue
        popleft = queue.popleft
        proc = s.processor
        name = s.processor_name
        with_meta = s.takes_meta
        sid = s.id
        kind = s.source_kind
        in_check = self.input.check if self.input is not None else None
        if in_check is not None and self.input.check_queued(islice(queue, s.batch)):  # type: ignore[union-attr]
            in_check = None  # every chunk this batch can reach fits: no check per chunk
        check_result = self.check_result if self.state is not None or self.output is not None else None
        bare = s.result_shape == "bare"
        wrapped = s.result_shape == "state"
        n = 0
        seq = 0
        received = 0.0
        state = s.state
        processed = 0
        try:
            limit = s.batch
            while queue and n < limit and s.status is _ACTIVE:
                seq, chunk, smeta, received = popleft()
                n += 1
                if smeta is not None and type(smeta) is _Fault:
                    s.dropped += 1
                    s.state = state
                    s.processed += processed
                    processed = 0
                    d._fail(s, f"chunk {seq}: {smeta.message}", seq)
                    break
                processed += 1
                try:
                    if in_check is not None and not in_check(chunk):
                        raise self.input.violation(  # type: ignore[union-attr]
                            chunk, stream_id=sid, subject=f"chunk {seq}", seq=seq
                        )
                    if with_meta:
                        meta = {_STREAM_ID: sid, _SEQ: seq, _SOURCE: kind, _RECEIVED_AT: received}
                        if smeta:
                            meta = {**smeta, **meta}
                        res = proc(state, chunk, meta)
                    else:
                        res = proc(state, chunk)
                    if bare or (type(res) is dict and RESULT_KEYS.isdisjoint(res)):
                        new_state, event, outs = res, None, _NO_OUTPUTS
                    elif wrapped:
                        new_state, event, outs = res[STATE], None, _NO_OUTPUTS
                    else:
                        new_state, event, outs = interpret(res, state, name)
                    if check_result is not None:
                        check_result(sid, seq, new_state, outs)
                except Exception as exc:
                    s.state = state
                    s.processed += processed
                    processed = 0
                    if not self._failed(d, s, exc, seq, chunk, smeta, received):
                        break
                    continue
                state = new_state
                if event is None and not outs:
                    continue
                s.state = state
                s.processed += processed
                processed = 0
                if outs:
                    d._emit(s, outs)
                if event is not None:
                    d._carry_out(s, s.apply(event), seq)
                    if s.pending is not None:
                        break
                state = s.state
        except Exception as exc:
            # not a chunk's fault (an output sink failed): the stream fails whatever its policy
            s.state = state
            s.processed += processed
            processed = 0
            d._fail(s, f"chunk {seq}: {failure_text(exc)}", seq)
        else:
            s.state = state
            s.processed += processed
        if n:
            d._batch_done(s, n, received)
        return n

    def hand_off_batch(
        self, d: ChunkLoops, s: _Stream, chunks: Iterable[Any], smeta: dict[Keyword, Any] | None
    ) -> int:
        """The driver's ``_hand_off_batch`` for a guarded stream: chunks never queued, numbered as they are
        processed, each checked and handled as in :meth:`run_batch`.

        The input schema is checked over the whole batch in one call when ``chunks`` is a list (taken at once, see
        ``ChunkLoops._hand_off``), else chunk by chunk, as each is taken. A dead-letter write that makes the stream wait ends the batch with
        ``s.pending`` set: the producer hands the rest back to the queue, as for a checkpoint.
        """
        proc = s.processor
        name = s.processor_name
        with_meta = s.takes_meta
        sid = s.id
        kind = s.source_kind
        in_schema = self.input
        in_check = in_schema.check if in_schema is not None else None
        if in_schema is not None and type(chunks) is list and in_schema.check_all(chunks):
            in_check = None  # every chunk of the batch fits: no check per chunk
        state_check = self.state.check if self.state is not None else None
        check_result = self.check_result if self.state is not None or self.output is not None else None
        if in_check is None and check_result is None and self.on_error is OnError.FAIL:
            # nothing left to check per chunk, and a failure fails the stream: exactly the unguarded loop
            return d._hand_off_unchecked(s, chunks, smeta)
        disjoint = RESULT_KEYS.isdisjoint
        bare = s.result_shape == "bare"
        start = done = seq = s.seq
        received = d._clock()
        state = s.state
        failed: Exception | None = None
        try:
            for chunk in chunks:
                seq += 1
                try:
                    if in_check is not None and not in_check(chunk):
                        raise in_schema.violation(  # type: ignore[union-attr]
                            chunk, stream_id=sid, subject=f"chunk {seq}", seq=seq
                        )
                    if with_meta:
                        meta = {_STREAM_ID: sid, _SEQ: seq, _SOURCE: kind, _RECEIVED_AT: received}
                        if smeta:
                            meta = {**smeta, **meta}
                        res = proc(state, chunk, meta)
                    else:
                        res = proc(state, chunk)
                    # the commonest result, a bare map that passes: the new state, nothing else to do
                    if (bare or (type(res) is dict and disjoint(res))) and (
                        state_check is None or state_check(res)
                    ):
                        state = res
                        if s.status is not _ACTIVE:
                            break
                        continue
                    new_state, event, outs = interpret(res, state, name)
                    if check_result is not None:
                        check_result(sid, seq, new_state, outs)
                except Exception as exc:
                    s.seq, s.state, s.processed, done = seq, state, s.processed + seq - done, seq
                    if not self._failed(d, s, exc, seq, chunk, smeta, received) or s.status is not _ACTIVE:
                        break
                    continue
                state = new_state
                if event is not None or outs:
                    # the record is brought up to date before anything can look at it
                    s.seq, s.state, s.processed, done = seq, state, s.processed + seq - done, seq
                    try:
                        if outs:
                            d._emit(s, outs)
                        if event is not None:
                            d._carry_out(s, s.apply(event), seq)
                    except Exception as exc:
                        # not a chunk's fault (an output sink failed): the stream fails whatever its policy
                        failed = exc
                        break
                    if s.pending is not None:
                        break
                    state = s.state
                # checked after every chunk: a processor may pause or cancel its own stream through a capability
                if s.status is not _ACTIVE:
                    break
        finally:
            s.seq, s.state, s.processed = seq, state, s.processed + seq - done
            n = seq - start
            if n:
                if failed is not None:
                    d._fail(s, f"chunk {seq}: {failure_text(failed)}", seq)
                d._batch_done(s, n, received, handed_off=True)
        return n

    def _failed(
        self, d: ChunkLoops, s: _Stream, exc: Exception, seq: int, chunk: Any, smeta: Any, received: float
    ) -> bool:
        """Apply the policy to a failed chunk; whether the batch may go on."""
        message = str(exc) if isinstance(exc, SchemaViolation) else f"chunk {seq}: {failure_text(exc)}"
        policy = self.on_error
        if policy is OnError.FAIL:
            d._fail(s, message, seq)
            return False
        s.errors += 1
        s.skipped += 1
        if policy is OnError.SKIP:
            return True
        meta = {_STREAM_ID: s.id, _SEQ: seq, _SOURCE: s.source_kind, _RECEIVED_AT: received}
        if isinstance(smeta, Mapping) and smeta:
            meta = {**smeta, **meta}
        s.dead_lettered += 1
        writer = d._dead_letter
        pending = writer(s, seq, chunk, meta, message) if writer is not None else None
        if pending is None:
            letters = self.dead_letters
            if letters.maxlen is not None and len(letters) == letters.maxlen:
                self.dead_letters_dropped += 1
            letters.append(DeadLetter(s.id, seq, chunk, meta, message, time.time()))
            return True
        s.pending = pending
        return False


def build_guard(
    options: Mapping[Keyword, Any] | None,
    *,
    input_schema: Any = None,
    output_schema: Any = None,
    state_schema: Any = None,
    on_error: Any = None,
) -> tuple[Guard | None, dict[Keyword, Any]]:
    """The guard a stream needs (None when it needs none) and the options to record for it.

    Explicit arguments win over ``options``; what is used is written back into the returned options as data, so a
    snapshot carries it and a resumed stream checks the same way.
    """
    merged: dict[Keyword, Any] = dict(options) if options else {}
    for key, given in (
        (INPUT_SCHEMA, input_schema),
        (OUTPUT_SCHEMA, output_schema),
        (STATE_SCHEMA, state_schema),
        (ON_ERROR, on_error),
    ):
        if given is not None:
            merged[key] = given.spec if isinstance(given, Schema) else given
    schemas: dict[Keyword, Schema | None] = {}
    for key in (INPUT_SCHEMA, OUTPUT_SCHEMA, STATE_SCHEMA):
        spec = merged.get(key)
        schemas[key] = None if spec is None else compile_schema(spec, pr_str(key))
        if spec is not None:
            merged[key] = schemas[key].spec  # type: ignore[union-attr]
    policy = OnError.FAIL
    if merged.get(ON_ERROR) is not None:
        policy = OnError.parse(merged[ON_ERROR])
        merged[ON_ERROR] = policy.keyword
    if policy is OnError.FAIL and not any(schemas.values()):
        return None, merged
    guard = Guard(
        input=schemas[INPUT_SCHEMA],
        output=schemas[OUTPUT_SCHEMA],
        state=schemas[STATE_SCHEMA],
        on_error=policy,
    )
    return guard, merged
