"""The machinery under :class:`~streamrt.runtime.provider.Provider`: intake, room, workers, transitions' effects.

Theory of operation
-------------------
Each stream is a :class:`~streamrt.runtime.stream.StreamRecord`. Producers (``push``, a source's reader task) put
chunks in its bounded queue. When the queue is full, a producer of an *active* stream drains it itself, one batch
at a time, right where it is (a direct hand-off: no task switch per batch, and the FIFO queue keeps the order
whoever processes it); a producer of a *paused* stream waits on a future that is resolved when room appears. That
wait is the backpressure: a source's reader stops pulling, so a network source is slowed by TCP.

A stream has a worker task only while it has work: accepting a chunk for an active stream with no worker creates
one; the worker processes queued chunks (:mod:`streamrt.runtime.batch`), yields to the event loop every batch (so
streams take turns), stays one extra turn when the queue runs dry (a producer usually refills it at once) and then
ends. Idle streams cost a record and no task, which keeps 10,000 streams cheap.

Every status change goes through :meth:`StreamRecord.apply`, i.e. through :mod:`streamrt.runtime.machine`; this
module only carries out the effects a transition names (schedule the worker, wake producers, run ``:on-end``,
stop the source). One stream's failure is caught at that stream and never reaches another. The per-chunk loops
live in :mod:`streamrt.runtime.batch` and the source reader in :mod:`streamrt.runtime.reading`, as mixins of
:class:`Driver`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from streamrt.errors import StreamClosedError, UnknownStreamError, UsageError
from streamrt.meta import ENDED_AT as _ENDED_AT
from streamrt.meta import SEQ as _SEQ
from streamrt.meta import SOURCE as _SOURCE
from streamrt.meta import STREAM_ID as _STREAM_ID
from streamrt.observe.logs import log_transition, stream_log
from streamrt.runtime.batch import _ACTIVE, _BATCH, _YIELD_EVERY, ChunkLoops
from streamrt.runtime.callables import failure_text, name_of, takes_meta
from streamrt.runtime.contract import interpret
from streamrt.runtime.machine import Event, Status, Transition, transition
from streamrt.runtime.outputs import OutputSubscription, Sink
from streamrt.runtime.reading import SourceReading
from streamrt.runtime.stream import StreamRecord
from streamrt.sources.base import Source
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.observe.hooks import Observer
    from streamrt.policy.guard import DeadLetterWriter

__all__ = ["Driver"]

_FAIL: Final = Event.FAIL
_DEBUG, _INFO, _ERROR = logging.DEBUG, logging.INFO, logging.ERROR
_OVER_FOR_GOOD: Final = frozenset({Status.COMPLETED, Status.STOPPED, Status.CANCELLED})
"""Terminal statuses after which a source may release what its server keeps for a resume (not ``:error``)."""


class _Stream(StreamRecord):
    """The record plus what only the asyncio driver needs."""

    __slots__ = (
        "batch",
        "done_waiters",
        "pending",
        "reader",
        "result_shape",
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
        self.result_shape: str | None = None
        """What the processor always returns, if its script's compiler could tell (:func:`result_shape`): the
        loops then take the new state without checking the result."""


class Driver(ChunkLoops, SourceReading):
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
        self._persist_span: Callable[[StreamRecord], int | None] | None = None
        """The same policy's word on how many chunks a producer may process straight from its iterable before the
        hook must be asked again (None: as many as it likes); see :meth:`ChunkLoops._hand_off`."""
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

    async def _make_room(self, s: _Stream, *, drain: bool = False) -> None:
        """Return once the queue has room (with ``drain``: is empty), the stream is over or the provider closes.

        An active stream is drained right here, by the producer, one batch at a time (a direct hand-off: no task
        switch per batch; the FIFO queue keeps the order whoever processes it); the producer then yields once so
        other tasks get their turn. A paused stream makes the producer wait, timed as backpressure.

        ``drain`` is ``push_many``'s, whose producer goes on processing straight from its iterable once the queue
        is empty and nothing is in flight (:meth:`ChunkLoops._hand_off`): an active stream's queue is drained to
        the end (a batch can be shorter than the queue: 16 chunks under the per-chunk policy), and a write the
        stream waits for meanwhile (the worker's snapshot, say) is waited for here too.
        """
        while not s.status.terminal and not self._closed:
            if drain and s.status is _ACTIVE:
                if s.pending is not None:
                    await self._settle_checkpoint(s)
                    continue
                if not s.queue:
                    return
            elif len(s.queue) < s.capacity:
                return
            if s.status is _ACTIVE and s.pending is None:
                self._inline += self._run_batch(s)
                if self._persist is not None:
                    self._ask_policy(s)
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

    def _ask_policy(self, s: _Stream) -> None:
        """After a batch: the snapshot policy's look, unless a write is already pending; a write the stream must
        wait for is left in ``s.pending`` (the queued loops and the hand-off each wait for it their own way)."""
        if self._persist is not None and s.pending is None:
            self._persisted(s, False)

    def _persisted(self, s: _Stream, forced: bool) -> None:
        pending = self._persist(s, forced)  # type: ignore[misc]
        if pending is not None:
            # A later snapshot of the same stream is written after an earlier one, so awaiting it covers both.
            s.pending = pending

    def _carry_out(self, s: _Stream, t: Transition, seq: int | None = None) -> None:
        """Carry out ``t``; ``seq`` is the chunk whose result or failure led to it, when there is one (for the log)."""
        level = _ERROR if t.event is _FAIL else _INFO if t.source is not t.target else _DEBUG
        if stream_log.isEnabledFor(level):
            log_transition(s, t, level, seq)
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

    def _fail(self, s: _Stream, message: str, seq: int | None = None) -> None:
        self._carry_out(s, s.apply(Event.FAIL, message), seq)

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
                self._ask_policy(s)
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
        """Wait for the write in flight (``s.pending``); the stream fails if it failed.

        ``s.pending`` stays set while the write is in flight, so nobody processes chunks meanwhile. A worker and a
        producer may both wait for one write: a coroutine is made into one task that both await, each through a
        shield, so a waiter that is cancelled (a host giving up on ``push_many``) cancels neither the write nor the
        others' wait, and leaves the write pending for whoever comes next.
        """
        pending = asyncio.ensure_future(s.pending)  # type: ignore[arg-type]
        s.pending = pending
        settled = True
        try:
            await asyncio.shield(pending)
        except asyncio.CancelledError:
            settled = pending.done()
            raise
        except Exception as exc:
            if not s.status.terminal:
                self._fail(s, f"checkpoint failed: {failure_text(exc)}")
        finally:
            if settled and s.pending is pending:
                s.pending = None

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
            label = f"on-end {name_of(fn)}"
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
                self._fail(s, f"{label} failed: {failure_text(exc)}")
                return
        self._carry_out(s, s.apply(Event.END))
