"""The per-chunk loops: a queued batch, a producer's direct hand-off, and emitting outputs.

Theory of operation
-------------------
Processors are synchronous, so a batch runs as one tight loop with no await inside: a chunk is never
half-processed when a task is cancelled (cancellation lands between batches). The loops keep what they touch in
local variables (the state, the processed count) and write them back to the record before anything else can look
at it: the slow path of the result contract, a failure, the end of the batch.

``push_many`` goes one step further than draining the queue: once a producer has drained a full queue and nothing
is queued or in flight (no snapshot or dead-letter write), it processes the rest of its chunks straight from the
host's iterable, ``_HAND_OFF`` at a time, numbering each as it is processed (:meth:`ChunkLoops._hand_off`). With
the queue empty that is the same order and the same outcome as queueing and draining, without the deque round
trip; the moment the stream stops being active (or a checkpoint or a dead-letter write is in flight, or another
producer queues a chunk) the remaining chunks go back to the queue path. A guarded stream with an input schema fed
a list or a tuple takes each batch at once instead, so the schema is checked over the whole batch in one call, as
over a queued batch. A stream with a guard (schemas, an ``:on-error`` policy) runs its guard's copies of both loops
(:mod:`streamrt.policy.guard`).

A persister does not turn the hand-off off. Between two batches the producer does what it does after draining a
queued batch: it asks the snapshot policy (the persister's hook) and awaits the write the policy says the stream
must wait for, before it takes another chunk. Each batch ends where the policy wants its next look
(:meth:`~streamrt.runtime.persist.Persister.span`), so snapshots fall due as on the queued path. A snapshot sees
each chunk either processed (counted in ``seq``, its effect in the state) or not yet taken from the host's
iterable, i.e. not yet accepted: never in between, so the delivery guarantees of docs/persistence.md hold as they
are.

Results are checked against the contract only when they could break it: when the script's compiler proved that
every result of the processor is a bare state map (or ``{:state x}`` alone), ``s.result_shape`` says so and the
loops take the new state unchecked (:func:`streamrt.runtime.callables.result_shape`).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final

from streamrt.errors import SinkError
from streamrt.meta import RECEIVED_AT as _RECEIVED_AT
from streamrt.meta import SEQ as _SEQ
from streamrt.meta import SOURCE as _SOURCE
from streamrt.meta import STREAM_ID as _STREAM_ID
from streamrt.runtime.callables import failure_text, name_of
from streamrt.runtime.contract import RESULT_KEYS, STATE, interpret
from streamrt.runtime.machine import Status, Transition
from streamrt.runtime.outputs import Output, OutputSubscription, Sink
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.observe.hooks import Observer
    from streamrt.policy.guard import DeadLetterWriter
    from streamrt.runtime.driver import _Stream
    from streamrt.runtime.stream import StreamRecord

__all__ = ["ChunkLoops"]

_BATCH: Final = 64
"""Queued chunks a worker processes before it yields to the event loop (so streams take turns)."""
_YIELD_EVERY: Final = 256
"""Chunks a producer processes itself, over its batches, before it yields to the event loop."""
_HAND_OFF: Final = 1024
"""Chunks a producer processes itself (:meth:`ChunkLoops._hand_off`) before it checks whether to yield."""
_ACTIVE: Final = Status.ACTIVE
_ABSENT: Final[Any] = object()
_INERT: Final[tuple[type, ...]] = (type(iter([])), type(iter(())))
"""Iterators that taking a chunk from early changes nothing anyone can see (no code runs, nothing can raise)."""


class _Fault:
    """A queue entry's meta slot holding a source fault instead of chunk metadata (never user data)."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


class ChunkLoops:
    """The processing loops of :class:`~streamrt.runtime.driver.Driver`, which provides the rest."""

    if TYPE_CHECKING:
        _clock: Callable[[], float]
        _sinks: list[Sink]
        _subs: list[OutputSubscription]
        _closed: bool
        _inline: int
        _persist: Callable[[StreamRecord, bool], Awaitable[None] | None] | None
        _persist_span: Callable[[StreamRecord], int | None] | None
        _observer: Observer | None
        _dead_letter: DeadLetterWriter | None

        def _carry_out(self, s: _Stream, t: Transition, seq: int | None = None) -> None: ...
        def _fail(self, s: _Stream, message: str, seq: int | None = None) -> None: ...
        def _schedule(self, s: _Stream) -> None: ...
        def _after_batch(self, s: _Stream) -> bool: ...
        def _ask_policy(self, s: _Stream) -> None: ...
        async def _settle_checkpoint(self, s: _Stream) -> None: ...

    def _run_batch(self, s: _Stream) -> int:
        """Process up to ``s.batch`` queued chunks synchronously, in order, while the stream stays active.

        Nothing is processed while a snapshot write is in flight: the stream waits for it before the next chunk.
        A stream with schemas or an ``:on-error`` policy runs its guard's copy of this loop instead.
        """
        if s.pending is not None:
            return 0
        if s.guard is not None:
            return s.guard.run_batch(self, s)
        queue = s.queue
        proc = s.processor
        name = s.processor_name
        with_meta = s.takes_meta
        sid = s.id
        kind = s.source_kind
        n = 0
        seq = 0
        received = 0.0
        popleft = queue.popleft
        disjoint = RESULT_KEYS.isdisjoint
        shape = s.result_shape
        bare = shape == "bare"
        wrapped = shape == "state"
        # state and the processed count live in locals for the batch and are written back before anything else
        # can look at the stream (the slow path, a failure, the end of the batch)
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
                    self._fail(s, f"chunk {seq}: {smeta.message}", seq)
                    break
                processed += 1
                if with_meta:
                    meta = {_STREAM_ID: sid, _SEQ: seq, _SOURCE: kind, _RECEIVED_AT: received}
                    if smeta:
                        meta = {**smeta, **meta}
                    res = proc(state, chunk, meta)
                else:
                    res = proc(state, chunk)
                # Fast paths for the commonest results: a bare map (the whole new state) and {:state x}, taken
                # unchecked when the compiler saw that every result has that shape; everything else goes through
                # the contract.
                if bare:
                    state = res
                    continue
                if wrapped:
                    state = res[STATE]
                    continue
                if type(res) is dict:
                    if disjoint(res):
                        state = res
                        continue
                    if len(res) == 1:
                        new_state = res.get(STATE, _ABSENT)
                        if new_state is not _ABSENT:
                            state = new_state
                            continue
                state, event, outs = interpret(res, state, name)
                s.state = state
                s.processed += processed
                processed = 0
                if outs:
                    self._emit(s, outs)
                if event is not None:
                    self._carry_out(s, s.apply(event), seq)
                    if s.pending is not None:
                        break
                state = s.state
        except Exception as exc:
            s.state = state
            s.processed += processed
            processed = 0
            self._fail(s, f"chunk {seq}: {failure_text(exc)}", seq)
        else:
            s.state = state
            s.processed += processed
        if n:
            self._batch_done(s, n, received)
        return n

    def _batch_done(self, s: _Stream, n: int, received: float, *, handed_off: bool = False) -> None:
        """After ``n`` chunks were processed (once per batch, all four loops): latency, last event, observer."""
        now = self._clock()
        s.last_latency = now - received
        s.last_event_time = now
        if handed_off and not s.queue_high_watermark:
            s.queue_high_watermark = 1  # each chunk was held, one at a time, as in a queue of one
        if self._observer is not None:
            self._observer.batch(s, n)

    def _can_hand_off(self, s: _Stream) -> bool:
        """Whether a producer may process its chunks itself, skipping the queue (nothing queued or in flight)."""
        return s.status is _ACTIVE and not s.queue and s.pending is None and not self._closed

    async def _hand_off(
        self, s: _Stream, chunk: Any, rest: Iterator[Any], meta: dict[Keyword, Any] | None
    ) -> tuple[int, Any, Iterator[Any]]:
        """Process ``chunk`` and then chunks from ``rest`` directly, batch by batch; the queue is not touched.

        Only while :meth:`_can_hand_off` holds: the queue is empty, so processing in arrival order is the same as
        queueing and draining. A chunk is taken from ``rest`` only when it is about to be processed, so a pause or
        an end stops consumption at once. Returns how many were processed, the next chunk taken but not processed
        (``_ABSENT`` if ``rest`` ran out) and the chunks after it; the caller queues or refuses them as usual.

        After each batch, as after a queued batch a producer drains (``Driver._make_room``), the snapshot policy is
        asked, and a snapshot write it says the stream must wait for is awaited before the next chunk is taken. A
        write the batch itself set off (a checkpoint, a dead letter) ends the hand-off instead: a worker settles it.

        One exception: a guarded stream with an input schema takes a whole batch at once from a list or a tuple
        (which nobody can see), so the guard checks it in one call; what it did not process is handed back.
        """
        total = 0
        guard = s.guard
        ahead = guard is not None and guard.input is not None and type(rest) in _INERT
        span = self._persist_span
        while True:
            size = _HAND_OFF
            if span is not None:
                size = min(span(s) or _HAND_OFF, _HAND_OFF)
            try:
                if ahead:
                    taken = [chunk, *itertools.islice(rest, size - 1)]
                    n = self._hand_off_batch(s, taken, meta)
                    ran_out = n == len(taken) < size
                else:
                    n = self._hand_off_batch(
                        s, itertools.chain((chunk,), itertools.islice(rest, size - 1)), meta
                    )
                    # fewer than asked for, with nothing to stop the batch: ``rest`` ran out
                    ran_out = n < size and s.status is _ACTIVE and s.pending is None
            except BaseException:
                # the host's iterable raised: the producer leaves, the chunks it processed are the policy's all the same
                self._ask_policy(s)
                if s.pending is not None:
                    self._schedule(s)  # a worker settles the write, as the producer cannot
                raise
            total += n
            if s.pending is not None:
                # a write the batch set off (a checkpoint, a dead letter, a status change's snapshot) that the
                # stream must wait for: a worker settles it, and the producer hands the rest to the queue
                if s.worker is None:
                    self._schedule(s)
            else:
                self._ask_policy(s)
                if s.pending is not None:
                    # the policy's wait (its previous snapshot is not committed yet, or one turn for the write
                    # to start): awaited right here, as by a producer that drained a queued batch
                    await self._settle_checkpoint(s)
            self._after_batch(s)
            if ahead and n < len(taken):
                return total, taken[n], itertools.chain(taken[n + 1 :], rest)
            if ran_out:
                return total, _ABSENT, rest
            chunk = next(rest, _ABSENT)
            if chunk is _ABSENT:
                return total, _ABSENT, rest
            self._inline += n
            if self._inline >= _YIELD_EVERY:
                self._inline = 0
                await asyncio.sleep(0)
            if not self._can_hand_off(s):
                return total, chunk, rest

    def _hand_off_batch(self, s: _Stream, chunks: Iterable[Any], smeta: dict[Keyword, Any] | None) -> int:
        """:meth:`_run_batch`'s loop over chunks that were never queued: each is numbered as it is processed.

        An exception from ``chunks`` itself (the host's iterable) is the host's: it propagates to the caller after
        the record is brought up to date, and the stream goes on as if the iteration had simply stopped there.
        A stream with schemas or an ``:on-error`` policy runs its guard's copy of this loop instead.
        """
        if s.guard is not None:
            return s.guard.hand_off_batch(self, s, chunks, smeta)
        return self._hand_off_unchecked(s, chunks, smeta)

    def _hand_off_unchecked(self, s: _Stream, chunks: Iterable[Any], smeta: dict[Keyword, Any] | None) -> int:
        """:meth:`_hand_off_batch` with no guard, or for a guard with nothing to check in this batch."""
        proc = s.processor
        with_meta = s.takes_meta
        sid = s.id
        kind = s.source_kind
        disjoint = RESULT_KEYS.isdisjoint
        shape = s.result_shape
        bare = shape == "bare"
        wrapped = shape == "state"
        start = done = seq = s.seq
        received = self._clock()
        state = s.state
        failed: Exception | None = None
        try:
            if bare and not with_meta:
                # the commonest stream, in its own loop: a script processor whose every result is the new state
                for chunk in chunks:
                    seq += 1
                    try:
                        state = proc(state, chunk)
                    except Exception as exc:
                        failed = exc
                        break
                    if s.status is not _ACTIVE:
                        break
                chunks = ()
            for chunk in chunks:
                seq += 1
                try:
                    if with_meta:
                        meta = {_STREAM_ID: sid, _SEQ: seq, _SOURCE: kind, _RECEIVED_AT: received}
                        if smeta:
                            meta = {**smeta, **meta}
                        res = proc(state, chunk, meta)
                    else:
                        res = proc(state, chunk)
                    if bare:  # the compiler saw that every result is a bare map (or {:state x}, below)
                        state = res
                    elif wrapped:
                        state = res[STATE]
                    elif type(res) is dict and disjoint(res):
                        state = res
                    elif type(res) is dict and len(res) == 1 and STATE in res:
                        state = res[STATE]
                    else:
                        state, event, outs = interpret(res, state, s.processor_name)
                        # the slow path: the record is brought up to date before anything can look at it
                        s.seq, s.state, s.processed, done = seq, state, s.processed + seq - done, seq
                        if outs:
                            self._emit(s, outs)
                        if event is not None:
                            self._carry_out(s, s.apply(event), seq)
                        if s.pending is not None:
                            break
                        state = s.state
                except Exception as exc:
                    failed = exc
                    break
                # checked after every chunk: a processor may pause or cancel its own stream through a capability
                if s.status is not _ACTIVE:
                    break
        finally:
            s.seq, s.state, s.processed = seq, state, s.processed + seq - done
            n = seq - start
            if n:
                if failed is not None:
                    self._fail(s, f"chunk {seq}: {failure_text(failed)}", seq)
                self._batch_done(s, n, received, handed_off=True)
        return n

    def _emit(self, s: _Stream, values: tuple[Any, ...]) -> None:
        sinks = self._sinks
        subs = self._subs
        for value in values:
            s.output_seq += 1
            s.outputs += 1
            if sinks or subs:
                out = Output(s.id, s.output_seq, value)
                for sink in sinks:
                    try:
                        sink(out)
                    except Exception as exc:
                        raise SinkError(f"output sink {name_of(sink)} failed: {failure_text(exc)}") from exc
                for sub in subs:
                    sub.put(out)
