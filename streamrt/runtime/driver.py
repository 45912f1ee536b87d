"""The machinery under :class:`~streamrt.runtime.provider.Provider`: intake, workers, effects, source readers.

Theory of operation
-------------------
Each stream is a :class:`~streamrt.runtime.stream.StreamRecord`. Producers (``push``, a source's reader task) put
chunks in its bounded queue. When the queue is full, a producer of an *active* stream drains it itself, one batch
at a time, right where it is (a direct hand-off: no task switch per batch, and the FIFO queue keeps the order
whoever processes it); a producer of a *paused* stream waits on a future that is resolved when room appears. That
wait is the backpressure: a source's reader stops pulling, so a network source is slowed by TCP.

``push_many`` goes one step further: once it has drained a full queue and nothing is queued or in flight (no
snapshot write, no guard, no snapshot policy), it processes the rest of its chunks straight from the host's
iterable, ``_HAND_OFF`` at a time, numbering each as it is processed (:meth:`Driver._hand_off`). With the queue
empty that is the same order and the same outcome as queueing and draining, without the deque round trip; the
moment the stream stops being active (or a checkpoint is in flight) the remaining chunks go back to the queue path.

A stream has a worker task only while it has work: accepting a chunk for an active stream with no worker creates
one; the worker processes queued chunks in a tight synchronous loop, yields to the event loop every ``_BATCH``
chunks (so streams take turns), stays one extra turn when the queue runs dry (a producer usually refills it at
once) and then ends. Idle streams cost a record and no task, which keeps 10,000 streams cheap. Processors are
synchronous, so a chunk is never half-processed when a task is cancelled: cancellation lands between chunks.

Every status change goes through :meth:`StreamRecord.apply`, i.e. through :mod:`streamrt.runtime.machine`; this
module only carries out the effects a transition names (schedule the worker, wake producers, run ``:on-end``,
stop the source). One stream's failure is caught at that stream and never reaches another.
"""

from __future__ import annotations

import asyncio
import inspect as _inspect
import itertools
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Final

from streamrt.errors import (
    StreamClosedError,
    StreamError,
    StreamrtError,
    UnknownStreamError,
    UsageError,
)
from streamrt.observe.logs import log_transition, stream_log
from streamrt.runtime.contract import RESULT_KEYS, STATE, interpret
from streamrt.runtime.machine import DIRECTIVES, KNOWN_ACTIONS, Event, Status, Transition, transition
from streamrt.runtime.outputs import Output, OutputSubscription, Sink
from streamrt.runtime.stream import StreamRecord
from streamrt.sources.base import Chunk, ChunkFault, Control, Source, redact_url
from streamrt.values import Keyword, pr_str

if TYPE_CHECKING:
    from streamrt.observe.hooks import Observer
    from streamrt.policy.guard import DeadLetterWriter

__all__ = ["Driver", "is_source_failure", "source_failure_message", "takes_meta"]

_BATCH: Final = 64
_YIELD_EVERY: Final = 256
_HAND_OFF: Final = 1024
"""Chunks a producer processes itself (:meth:`Driver._hand_off`) before it checks whether to yield."""
_ACTIVE: Final = Status.ACTIVE
_STREAM_ID: Final = Keyword("stream-id")
_SEQ: Final = Keyword("seq")
_SOURCE: Final = Keyword("source")
_RECEIVED_AT: Final = Keyword("received-at")
_ENDED_AT: Final = Keyword("ended-at")
_ABSENT: Final[Any] = object()
_FAIL: Final = Event.FAIL
_DEBUG, _INFO, _ERROR = logging.DEBUG, logging.INFO, logging.ERROR
_OVER_FOR_GOOD: Final = frozenset({Status.COMPLETED, Status.STOPPED, Status.CANCELLED})
"""Terminal statuses after which a source may release what its server keeps for a resume (not ``:error``)."""


class _Fault:
    """A queue entry's meta slot holding a source fault instead of chunk metadata (never user data)."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


class _Stream(StreamRecord):
    """The record plus what only the asyncio driver needs."""

    __slots__ = (
        "batch",
        "done_waiters",
        "pending",
        "reader",
        "source",
        "source_failure",
        "space_waiters",
        "worker",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.worker: asyncio.Task[None] | None = None
        self.reader: asyncio.Task[None] | None = None
        self.source: Source | None = None
        self.source_failure: str | None = None
        self.space_waiters: list[asyncio.Future[None]] | None = None
        self.done_waiters: list[asyncio.Future[None]] | None = None
        self.pending: Awaitable[None] | None = None
        self.batch = _BATCH


_ARITY: weakref.WeakKeyDictionary[Callable[..., Any], dict[tuple[int, int], bool]] = (
    weakref.WeakKeyDictionary()
)
"""takes_meta's answers per function object: ``inspect.signature`` is slow enough to dominate starting (or
resuming) many streams of one processor. Weak, so a script's functions go when the script does."""


def takes_meta(fn: Callable[..., Any], nargs: tuple[int, int] = (2, 3), what: str = "processor") -> bool:
    """Whether ``fn`` is called with the larger of ``nargs`` positional arguments (detected once, at start)."""
    try:
        known = _ARITY.setdefault(fn, {})
    except TypeError:  # not hashable or not weakly referenceable: ask every time
        return _takes_meta(fn, nargs, what)
    answer = known.get(nargs)
    if answer is None:
        answer = known[nargs] = _takes_meta(fn, nargs, what)
    return answer


def _takes_meta(fn: Callable[..., Any], nargs: tuple[int, int], what: str) -> bool:
    small, big = nargs
    try:
        sig = _inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    required = optional = 0
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.default is p.empty:
                required += 1
            else:
                optional += 1
        elif p.kind is p.VAR_POSITIONAL:
            optional += big
    if required <= big <= required + optional:
        return True
    if required <= small <= required + optional:
        return False
    raise UsageError(f"{what} {_name_of(fn)} must take {small} or {big} positional arguments{_sig_text(sig)}")


def _sig_text(sig: _inspect.Signature) -> str:
    return f", not {sig}"


def _name_of(fn: Any) -> str:
    name = getattr(fn, "__streamrt_name__", None) or getattr(fn, "__qualname__", None)
    return str(name) if name else repr(fn)


def source_failure_message(uri: str, exc: BaseException) -> str:
    """A stream's ``:error`` message when its source failed: ``source URI: cause`` (no user info in the URI)."""
    label = redact_url(uri)
    cause = _failure(exc)
    return f"source {label}: {cause.removeprefix(f'{label}: ')}"


def is_source_failure(message: str | None, uri: str | None) -> bool:
    """Whether an ``:error`` message says the source at ``uri`` failed (such a stream may be resumed)."""
    return message is not None and uri is not None and message.startswith(f"source {redact_url(uri)}: ")


def _failure(exc: BaseException) -> str:
    """A one-line message for a processor's exception: ours say what they mean; others need their type name."""
    if isinstance(exc, StreamrtError):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Driver:
    """The provider's internals; :class:`~streamrt.runtime.provider.Provider` adds the public API."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        on_checkpoint: Callable[[StreamRecord], Awaitable[None] | None] | None,
    ) -> None:
        self._clock = clock
        self._on_checkpoint = on_checkpoint
        self._streams: dict[str, _Stream] = {}
        self._live = 0
        self._all_done: list[asyncio.Future[None]] = []
        self._sinks: list[Sink] = []
        self._subs: list[OutputSubscription] = []
        self._closed = False
        self._inline = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._persist: Callable[[StreamRecord, bool], Awaitable[None] | None] | None = None
        """A snapshot policy's hook (:mod:`streamrt.runtime.persist`): called after each batch (``forced`` False)
        and on each status change (True); an awaitable it returns is awaited before the stream goes on."""
        self._durable: Callable[[str], Awaitable[None] | None] | None = None
        """The persister's durability wait (per-chunk policy): an awaitable done once every chunk the stream has
        accepted is in a committed snapshot; ``push`` awaits it before returning."""
        self._dead_letter: DeadLetterWriter | None = None
        """Keeps a dead letter in the store (set by a persister); None: guarded streams keep them in memory."""
        self._observer: Observer | None = None
        """Metrics (:func:`streamrt.observe.metrics.instrument`): told once per processed batch, never per chunk."""

    def _end_input(self, s: _Stream) -> None:
        if s.status.terminal or s.input_ended:
            return
        s.input_ended = True
        if s.status is _ACTIVE and s.worker is None:
            self._schedule(s)

    # --- intake -----------------------------------------------------------------------------------------------
    def _get(self, stream_id: str) -> _Stream:
        try:
            return self._streams[stream_id]
        except KeyError:
            raise UnknownStreamError(f"no stream with id {stream_id!r}") from None
        except TypeError:
            raise UsageError(f"a stream id is a string, got {stream_id!r}") from None

    def _intake(self, s: _Stream, chunk: Any, meta: dict[Keyword, Any] | None) -> None:
        if self._closed:
            s.dropped += 1
            raise StreamClosedError(f"stream {s.id}: the provider is shut down; the chunk was dropped")
        if s.offer(chunk, meta or None, self._clock()).process and s.worker is None:
            self._schedule(s)

    async def _make_room(self, s: _Stream) -> None:
        """Return once the queue has room, the stream is over or the provider closes.

        An active stream is drained right here, by the producer, one batch at a time (a direct hand-off: no task
        switch per batch; the FIFO queue keeps the order whoever processes it); the producer then yields once so
        other tasks get their turn. A paused stream makes the producer wait, timed as backpressure.
        """
        while len(s.queue) >= s.capacity and not s.status.terminal and not self._closed:
            if s.status is _ACTIVE and s.pending is None:
                self._inline += self._run_batch(s)
                if self._persist is not None:
                    if s.pending is None:
                        self._persisted(s, False)
                    if s.pending is not None:
                        await self._settle_checkpoint(s)
                self._after_batch(s)
                if self._inline >= _YIELD_EVERY:
                    self._inline = 0
                    await asyncio.sleep(0)
            else:
                await self._wait_room(s)

    async def _wait_room(self, s: _Stream) -> None:
        """Wait until the queue has room, the stream is over or the provider closes; time it as backpressure."""
        loop = asyncio.get_running_loop()
        started = self._clock()
        try:
            while len(s.queue) >= s.capacity and not s.status.terminal and not self._closed:
                fut: asyncio.Future[None] = loop.create_future()
                if s.space_waiters is None:
                    s.space_waiters = []
                s.space_waiters.append(fut)
                await fut
                if s.status is _ACTIVE and s.pending is None:
                    return
        finally:
            s.backpressure_wait += self._clock() - started

    # --- carrying out transitions -----------------------------------------------------------------------------

    def _schedule(self, s: _Stream) -> None:
        if s.worker is None and not self._closed:
            loop: asyncio.AbstractEventLoop | None
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                # A sync host call made outside the loop (between run_until_complete calls, say): the task runs
                # when the provider's loop runs again.
                loop = self._loop
                if loop is None or loop.is_closed():
                    raise UsageError(
                        "the provider needs a running event loop; call this from inside it"
                    ) from None
            self._loop = loop
            s.worker = loop.create_task(self._work(s))

    def _persisted(self, s: _Stream, forced: bool) -> None:
        pending = self._persist(s, forced)  # type: ignore[misc]
        if pending is not None:
            # A later snapshot of the same stream is written after an earlier one, so awaiting it covers both.
            s.pending = pending

    def _carry_out(self, s: _Stream, t: Transition) -> None:
        level = _ERROR if t.event is _FAIL else _INFO if t.source is not t.target else _DEBUG
        if stream_log.isEnabledFor(level):
            log_transition(s, t, level)
        if self._persist is not None and t.changed:
            self._persisted(s, True)
            if s.pending is not None and not t.finish:
                self._schedule(s)
        if not t.effects:
            return
        if t.process:
            if (s.queue or s.input_ended) and s.worker is None:
                self._schedule(s)
        elif t.finish:
            self._finish(s)
        if t.snapshot and self._on_checkpoint is not None:
            pending = self._on_checkpoint(s)
            if pending is not None:
                # The hook captured the snapshot synchronously; the worker awaits the write before going on.
                s.pending = pending
                self._schedule(s)

    def _fail(self, s: _Stream, message: str) -> None:
        self._carry_out(s, s.apply(Event.FAIL, message))

    def _finish(self, s: _Stream) -> None:
        """The stream just became terminal: release everyone waiting on it and stop its source."""
        self._live -= 1
        if s.source is not None and s.status in _OVER_FOR_GOOD:
            s.source.closing_for_good = True
        reader = s.reader
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
        self._wake(s.space_waiters)
        self._wake(s.done_waiters)
        s.space_waiters = s.done_waiters = None
        for sub in list(self._subs):
            if sub.stream_id == s.id:
                sub.close()
        if self._live == 0:
            self._wake(self._all_done)

    @staticmethod
    def _wake(waiters: list[asyncio.Future[None]] | None) -> None:
        if waiters:
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
            waiters.clear()

    # --- processing -------------------------------------------------------------------------------------------

    async def _work(self, s: _Stream) -> None:
        lingered = False
        try:
            while True:
                self._run_batch(s)
                if self._persist is not None and s.pending is None:
                    self._persisted(s, False)
                if s.pending is not None:
                    await self._settle_checkpoint(s)
                if not self._after_batch(s):
                    if lingered or s.status is not _ACTIVE:
                        return
                    # Stay one turn: a producer that just made room usually refills at once, and a task switch
                    # is much cheaper than a new task.
                    lingered = True
                else:
                    lingered = False
                await asyncio.sleep(0)
        finally:
            s.worker = None

    def _after_batch(self, s: _Stream) -> bool:
        """Wake waiting producers; end the stream if its input is over; whether more can be processed now."""
        if s.space_waiters:
            self._wake(s.space_waiters)
        if s.status is not _ACTIVE:
            return False
        if s.queue:
            return True
        if s.input_ended or s.source_failure is not None:
            self._end(s)
        return False

    async def _settle_checkpoint(self, s: _Stream) -> None:
        # ``s.pending`` stays set while the write is in flight, so a producer does not process chunks meanwhile.
        pending = s.pending
        try:
            await pending  # type: ignore[misc]
        except Exception as exc:
            if not s.status.terminal:
                self._fail(s, f"checkpoint failed: {_failure(exc)}")
        finally:
            if s.pending is pending:
                s.pending = None

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
                    self._fail(s, f"chunk {seq}: {smeta.message}")
                    break
                processed += 1
                if with_meta:
                    meta = {_STREAM_ID: sid, _SEQ: seq, _SOURCE: kind, _RECEIVED_AT: received}
                    if smeta:
                        meta = {**smeta, **meta}
                    res = proc(state, chunk, meta)
                else:
                    res = proc(state, chunk)
                # Fast paths for the commonest results: a bare map (the whole new state) and {:state x};
                # everything else goes through the contract.
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
                    self._carry_out(s, s.apply(event))
                    if s.pending is not None:
                        break
                state = s.state
        except Exception as exc:
            s.state = state
            s.processed += processed
            processed = 0
            self._fail(s, f"chunk {seq}: {_failure(exc)}")
        else:
            s.state = state
            s.processed += processed
        if n:
            now = self._clock()
            s.last_latency = now - received
            s.last_event_time = now
            if self._observer is not None:
                self._observer.batch(s, n)
        return n

    def _can_hand_off(self, s: _Stream) -> bool:
        """Whether a producer may process its chunks itself, skipping the queue (nothing queued or in flight)."""
        return (
            s.status is _ACTIVE
            and not s.queue
            and s.pending is None
            and s.guard is None
            and self._persist is None
            and not self._closed
        )

    async def _hand_off(
        self, s: _Stream, chunk: Any, rest: Iterator[Any], meta: dict[Keyword, Any] | None
    ) -> tuple[int, Any]:
        """Process ``chunk`` and then chunks from ``rest`` directly, batch by batch; the queue is not touched.

        Only while :meth:`_can_hand_off` holds: the queue is empty, so processing in arrival order is the same as
        queueing and draining. A chunk is taken from ``rest`` only when it is about to be processed, so a pause or
        an end stops consumption at once. Returns how many were processed and the next chunk taken but not
        processed (``_ABSENT`` if ``rest`` ran out); the caller queues or refuses it as usual.
        """
        total = 0
        while True:
            n = self._hand_off_batch(
                s, itertools.chain((chunk,), itertools.islice(rest, _HAND_OFF - 1)), meta
            )
            total += n
            self._after_batch(s)
            if n < _HAND_OFF and s.status is _ACTIVE and s.pending is None:
                return total, _ABSENT  # ``rest`` ran out
            chunk = next(rest, _ABSENT)
            if chunk is _ABSENT:
                return total, _ABSENT
            self._inline += n
            if self._inline >= _YIELD_EVERY:
                self._inline = 0
                await asyncio.sleep(0)
            if not self._can_hand_off(s):
                return total, chunk

    def _hand_off_batch(self, s: _Stream, chunks: Iterator[Any], smeta: dict[Keyword, Any] | None) -> int:
        """:meth:`_run_batch`'s loop over chunks that were never queued: each is numbered as it is processed.

        An exception from ``chunks`` itself (the host's iterable) is the host's: it propagates to the caller after
        the record is brought up to date, and the stream goes on as if the iteration had simply stopped there.
        """
        proc = s.processor
        with_meta = s.takes_meta
        sid = s.id
        kind = s.source_kind
        disjoint = RESULT_KEYS.isdisjoint
        start = done = seq = s.seq
        received = self._clock()
        state = s.state
        failed: Exception | None = None
        try:
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
                    if type(res) is dict and disjoint(res):
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
                            self._carry_out(s, s.apply(event))
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
                    self._fail(s, f"chunk {seq}: {_failure(failed)}")
                now = self._clock()
                s.last_latency = now - received
                s.last_event_time = now
                if not s.queue_high_watermark:
                    s.queue_high_watermark = 1  # each chunk was held, one at a time, as in a queue of one
                if self._observer is not None:
                    self._observer.batch(s, n)
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
                        raise StreamError(f"output sink {_name_of(sink)} failed: {_failure(exc)}") from exc
                for sub in subs:
                    sub.put(out)

    def _end(self, s: _Stream) -> None:
        """The input ended and the queue is empty: run ``:on-end`` (if any), then complete.

        If the input ended because the source failed, the stream goes to ``:error`` instead (no ``:on-end``).
        """
        if s.source_failure is not None:
            self._fail(s, s.source_failure)
            return
        t = transition(s.status, Event.END)
        if t.run_on_end and s.on_end is not None:
            fn = s.on_end
            label = f"on-end {_name_of(fn)}"
            try:
                if takes_meta(fn, (1, 2), "on-end function"):
                    meta = {_STREAM_ID: s.id, _SEQ: s.seq, _SOURCE: s.source_kind, _ENDED_AT: self._clock()}
                    value = fn(s.state, meta)
                else:
                    value = fn(s.state)
                new_state, _, outs = interpret(value, s.state, label)
                if s.guard is not None:
                    s.guard.check_end(s, new_state, outs)
                s.state = new_state
                if outs:
                    self._emit(s, outs)
            except Exception as exc:
                self._fail(s, f"{label} failed: {_failure(exc)}")
                return
        self._carry_out(s, s.apply(Event.END))

    # --- sources ----------------------------------------------------------------------------------------------

    async def _read(self, s: _Stream, source: Source) -> None:
        """Pull items only when the queue has room, so a full queue holds the source back."""
        try:
            async with source:
                items = source.items().__aiter__()
                try:
                    while not s.status.terminal and not self._closed:
                        if len(s.queue) >= s.capacity:
                            await self._make_room(s)
                            continue
                        try:
                            item = await items.__anext__()
                        except StopAsyncIteration:
                            self._end_input(s)
                            return
                        if s.status.terminal or self._closed:
                            return
                        self._take_item(s, item)
                finally:
                    aclose = getattr(items, "aclose", None)
                    if aclose is not None:
                        await aclose()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not s.status.terminal:
                self._source_failed(s, source_failure_message(source.uri, exc))

    def _source_failed(self, s: _Stream, message: str) -> None:
        """The source gave up: process what it already delivered (in order, as usual), then go to ``:error``.

        Failing at once would discard the queue, and the continuation already points past those chunks, so a
        resumed stream would never see them. The input is not marked ended: a snapshot taken meanwhile must make
        a resume reopen the source, not complete the stream.
        """
        s.source_failure = message
        if not s.queue:
            self._fail(s, message)
        elif s.status is _ACTIVE and s.worker is None:
            self._schedule(s)

    def _take_item(self, s: _Stream, item: Chunk | Control | ChunkFault) -> None:
        if item.continuation is not None:
            s.continuation = item.continuation
        if type(item) is Chunk:
            self._intake(s, item.value, item.meta)
        elif type(item) is Control:
            event = DIRECTIVES.get(item.action) if isinstance(item.action, Keyword) else None
            if event is None:
                known = " ".join(pr_str(k) for k in KNOWN_ACTIONS)
                self._fail(s, f"source sent unknown control action {pr_str(item.action)}; known: {known}")
            else:
                t = s.apply(event)
                if not t.reject:
                    self._carry_out(s, t)
        elif type(item) is ChunkFault:
            self._intake(s, None, _Fault(item.message))  # type: ignore[arg-type]
        else:
            self._fail(s, f"source yielded {type(item).__name__}, not a Chunk, Control or ChunkFault")
