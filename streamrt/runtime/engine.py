"""The engine: how a provider runs its streams (intake, scheduling, batches, directives, the end of input).

Theory of operation
-------------------
Every stream is a :class:`~streamrt.runtime.stream.StreamRecord`; the engine moves it. A chunk is *accepted*
(:meth:`Engine.intake`: queued, numbered, the stream scheduled) and later *processed* by the stream's generated
chunk loop (:mod:`streamrt.runtime.loops`), a batch at a time, by a *worker* task per active stream with queued
chunks (:meth:`Engine.work`), which yields to the event loop between batches so that streams take turns, or by a
producer that found the queue full (:mod:`streamrt.runtime.feeding`).

Statuses change only through the directive machine: :meth:`StreamRecord.apply` asks it, and
:meth:`Engine.carry_out` does what the transition says (log it, tell the observers, let the persistence snapshot
it, schedule, finish). Persistence is asked after each batch (:meth:`Persistence.after_batch`) and the stream waits
for a write it returns before its next chunk (``tasks.pending``): nothing is processed while it is in flight. A
snapshot therefore sees each chunk either processed (counted in ``seq``, its effect in the state) or not yet
accepted; never in between.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from streamrt.errors import StreamClosedError
from streamrt.lang.turn import TURN, Halted
from streamrt.meta import ENDED_AT, SEQ, SOURCE, STREAM_ID
from streamrt.runtime import onerror, state_size
from streamrt.runtime.callables import failure_text, name_of, takes_meta
from streamrt.runtime.contract import TimerRequest, interpret
from streamrt.runtime.events import EventHub, StatusChange
from streamrt.runtime.lifelog import log_transition, stream_log
from streamrt.runtime.machine import Event, Status, Transition, transition
from streamrt.runtime.stream import StreamRecord
from streamrt.runtime.timers import Timers, event_loop_of
from streamrt.runtime.views import StreamView
from streamrt.store.snapshot import Snapshot
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.runtime.ports import Persistence

__all__ = ["Checkpoint", "Engine"]


Checkpoint = Callable[[StreamView], "Awaitable[None] | None"]
"""A host's ``:checkpoint`` hook; an awaitable it returns is waited for before the stream goes on."""

_ACTIVE: Final = Status.ACTIVE
_DEBUG, _INFO, _ERROR = logging.DEBUG, logging.INFO, logging.ERROR
_OVER_FOR_GOOD: Final = frozenset({Status.COMPLETED, Status.STOPPED, Status.CANCELLED})
"""Terminal statuses after which a source may release what its server keeps for a resume (not ``:error``)."""
SHUT_DOWN: Final = "the provider is shut down"


class Engine:
    """Runs the streams of one provider; the provider's public methods are a thin face over it."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        hub: EventHub,
        persistence: Persistence | None,
        on_checkpoint: Checkpoint | None,
    ) -> None:
        self.clock = clock
        self.hub = hub
        self.persistence = persistence
        self.on_checkpoint = on_checkpoint
        self.streams: dict[str, StreamRecord] = {}
        self.live = 0
        """Streams registered and not yet terminal."""
        self.all_done: list[asyncio.Future[None]] = []
        self.closed = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.timers = Timers(self)

    # --- intake -------------------------------------------------------------------------------------------------

    def intake(self, rec: StreamRecord, chunk: Any, meta: dict[Keyword, Any] | None) -> None:
        """Accept one chunk (raises QueueFullError when full, StreamClosedError when over) and schedule."""
        closed = rec.tasks.closed
        if closed is not None:
            rec.dropped += 1
            raise StreamClosedError(f"stream {rec.id}: {closed}; the chunk was dropped")
        if rec.offer(chunk, meta or None, self.clock()).process and rec.tasks.worker is None:
            self.schedule(rec)

    def end_input(self, rec: StreamRecord) -> None:
        if rec.status.terminal or rec.input_ended:
            return
        rec.input_ended = True
        if rec.status is _ACTIVE and rec.tasks.worker is None:
            self.schedule(rec)

    # --- carrying out transitions -------------------------------------------------------------------------------

    def schedule(self, rec: StreamRecord) -> None:
        if rec.tasks.worker is None and not self.closed:
            rec.tasks.worker = self.event_loop().create_task(self.work(rec))

    def event_loop(self) -> asyncio.AbstractEventLoop:
        """The running loop; from a sync host call made outside it (between ``run_until_complete`` calls, say),
        the provider's, whose tasks run when it runs again."""
        self.loop = event_loop_of(self.loop)
        return self.loop

    def ask_policy(self, rec: StreamRecord) -> None:
        """After a batch: the snapshot policy's look, unless a write is already pending; a write the stream must
        wait for is left in ``tasks.pending`` (the queued loops and the hand-off each wait for it their way)."""
        persistence = self.persistence
        if persistence is not None and rec.tasks.pending is None:
            pending = persistence.after_batch(rec)
            if pending is not None:
                rec.tasks.pending = pending

    def carry_out(self, rec: StreamRecord, t: Transition, seq: int | None = None) -> None:
        """Carry out ``t``; ``seq`` is the chunk whose result or failure led to it, when there is one."""
        level = _ERROR if t.event is Event.FAIL else _INFO if t.source is not t.target else _DEBUG
        if stream_log.isEnabledFor(level):
            log_transition(rec, t, level, seq)
        if t.changed:
            hub = self.hub
            if hub.on_status:
                change = StatusChange(rec.id, t.source, t.target, t.event, rec.message, seq, rec.seq)
                hub.tell(hub.on_status, change)
            if self.persistence is not None:
                pending = self.persistence.status_changed(rec)
                if pending is not None:
                    # A later snapshot of the same stream is written after an earlier one: awaiting it covers both.
                    rec.tasks.pending = pending
                    if not t.finish:
                        self.schedule(rec)
        if not t.effects:
            return
        if t.process:
            if (rec.queue or rec.input_ended or rec.due) and rec.tasks.worker is None:
                self.schedule(rec)
        elif t.finish:
            self.finish(rec)
        if t.snapshot:
            pending = self.checkpoint(rec)
            if pending is not None:
                # The hook captured the snapshot synchronously; the worker awaits the write before going on.
                rec.tasks.pending = pending
                self.schedule(rec)

    def checkpoint(self, rec: StreamRecord) -> Awaitable[None] | None:
        """``:checkpoint``: the host's hook, then the persistence's; what either returns is waited for."""
        first = self.on_checkpoint(StreamView(rec)) if self.on_checkpoint is not None else None
        second = self.persistence.checkpoint(rec) if self.persistence is not None else None
        if first is None or second is None:
            return first or second
        return asyncio.ensure_future(_in_turn(first, second))

    def fail(self, rec: StreamRecord, message: str, seq: int | None = None) -> None:
        self.carry_out(rec, rec.apply(Event.FAIL, message), seq)

    def finish(self, rec: StreamRecord) -> None:
        """The stream just became terminal: release everyone waiting on it, stop its source and its timers."""
        self.live -= 1
        tasks = rec.tasks
        if rec.timers is not None or rec.due is not None:
            self.timers.disarm_all(rec)
            rec.timers = rec.due = None
        if tasks.source is not None and rec.status in _OVER_FOR_GOOD:
            tasks.source.closing_for_good = True
        reader = tasks.reader
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
        self.release_waiters(rec)
        if self.live == 0:
            _wake(self.all_done)

    def remove(self, rec: StreamRecord) -> None:
        """Take a stream off the engine without ending it (a hand-over): whoever waits on it is released."""
        del self.streams[rec.id]
        self.timers.disarm_all(rec)
        if not rec.status.terminal:
            self.live -= 1
            if self.live == 0:
                _wake(self.all_done)
        self.release_waiters(rec)

    def release_waiters(self, rec: StreamRecord) -> None:
        """Wake the producers and waiters of a stream that is over (or leaving), and end its subscriptions."""
        tasks = rec.tasks
        _wake(tasks.space_waiters)
        _wake(tasks.done_waiters)
        tasks.space_waiters = tasks.done_waiters = None
        for sub in list(self.hub.subs):
            if sub.stream_id == rec.id:
                sub.close()

    # --- the port a persistence sees ----------------------------------------------------------------------------

    def fail_stream(self, stream_id: str, message: str) -> None:
        """:meth:`PersistenceHost.fail`: a live stream of this engine goes to ``:error``."""
        rec = self.streams.get(stream_id)
        if rec is not None and not rec.status.terminal:
            self.fail(rec, message)

    def snapshots_written(self, snapshots: Sequence[Snapshot], seconds: float) -> None:
        """:meth:`PersistenceHost.snapshots_written`: tell the observers."""
        hub = self.hub
        if hub.on_snapshots:
            hub.tell(hub.on_snapshots, snapshots, seconds)

    # --- processing ---------------------------------------------------------------------------------------------

    async def work(self, rec: StreamRecord) -> None:
        lingered = False
        tasks = rec.tasks
        try:
            while True:
                self.run_batch(rec)
                if TURN.halted:
                    # a shutdown: what is queued stays queued, for the last snapshot and a resume (running the
                    # chunk again would only be stopped again, and would keep the loop from the shutdown)
                    return
                self.ask_policy(rec)
                if tasks.pending is not None:
                    await self.settle(rec)
                if not self.after_batch(rec):
                    if lingered or rec.status is not _ACTIVE:
                        return
                    # Stay one turn: a producer that just made room usually refills at once, and a task switch
                    # is much cheaper than a new task.
                    lingered = True
                else:
                    lingered = False
                if TURN.spent:
                    # the batch used its whole turn (a slow processor): to the back, behind what the other tasks'
                    # next steps make ready too (a source's chunk, then its stream's worker)
                    await asyncio.sleep(0)
                await asyncio.sleep(0)
        finally:
            tasks.worker = None

    def run_batch(self, rec: StreamRecord) -> int:
        """Process up to ``tasks.batch`` queued chunks synchronously, in order, while the stream stays active.

        Nothing is processed while a write is in flight. The batch stops before a chunk the source could not
        decode; when that chunk's turn comes, the stream's ``:on-error`` decides
        (:func:`~streamrt.runtime.onerror.undecodable`).
        """
        tasks = rec.tasks
        if tasks.pending is not None or rec.status is not _ACTIVE or TURN.halted:
            return 0
        queue = rec.queue
        k = min(tasks.batch, len(queue))
        due = rec.due
        if due is not None:
            # a timer that came due runs once the chunks accepted before it are processed
            if self.timers.run_next(rec):
                return 1
            k = min(k, due[0][1] - queue[0][0] + 1)
        if not k:
            return 0
        first = queue[0][0]
        faults = rec.faults
        if faults:
            fault_seq = next(iter(faults))
            if fault_seq == first:
                onerror.undecodable(self, rec, faults.pop(fault_seq))
                return 1
            k = min(k, fault_seq - first)
        program = rec.program
        loops = program.loops
        loop = loops.queued
        if loops.queued_checked is not None:
            schema = program.guard.input  # type: ignore[union-attr]
            if not schema.check_queued(itertools.islice(queue, k)):  # type: ignore[union-attr]
                loop = loops.queued_checked  # some chunk of the batch does not fit: check chunk by chunk
        return loop(self, rec, itertools.islice(iter(queue.popleft, None), k), None, 0.0, first - 1)

    def batch_done(self, rec: StreamRecord, n: int, received: float, queued: bool) -> None:
        """After ``n`` chunks were processed (once per batch, every loop): latency, last event, observers, and
        the size of the state when its look is due (:mod:`streamrt.runtime.state_size`)."""
        limit = rec.program.max_state
        if limit is not None and TURN.began >= rec.state_check_at and rec.status is _ACTIVE:
            problem = state_size.look(rec, limit, TURN.began)
            if problem is not None:
                self.fail(rec, problem)
        now = self.clock()
        rec.last_latency = latency = now - received
        rec.last_event_time = now
        if not queued and not rec.queue.high_watermark:
            rec.queue.high_watermark = 1  # each chunk was held, one at a time, as in a queue of one
        hub = self.hub
        if hub.on_batch:
            hub.tell(hub.on_batch, rec.id, rec.program.name, n, latency)

    def emit(self, rec: StreamRecord, values: tuple[Any, ...]) -> None:
        self.hub.emit(rec, values)

    def set_timers(self, rec: StreamRecord, request: TimerRequest) -> None:
        self.timers.set(rec, request)

    def skip(
        self,
        rec: StreamRecord,
        exc: Exception,
        seq: int,
        chunk: Any,
        meta: Mapping[Keyword, Any] | None,
        received: float,
    ) -> bool:
        """A chunk failed: :func:`streamrt.runtime.onerror.skip` (the stream's ``:on-error``); whether the batch
        may go on."""
        return onerror.skip(self, rec, exc, seq, chunk, meta, received)

    def after_batch(self, rec: StreamRecord) -> bool:
        """Wake waiting producers; end the stream if its input is over; whether more can be processed now."""
        tasks = rec.tasks
        if tasks.space_waiters:
            _wake(tasks.space_waiters)
        if rec.status is not _ACTIVE or tasks.closed is not None:
            return False
        if rec.queue or rec.due:
            return True
        if rec.input_ended or rec.source_failure is not None:
            self.end(rec)
        return False

    async def settle(self, rec: StreamRecord) -> None:
        """Wait for the write in flight (``tasks.pending``); the stream fails if it failed.

        ``tasks.pending`` stays set while the write is in flight, so nobody processes chunks meanwhile. A worker
        and a producer may both wait for one write: a coroutine is made into one task that both await, each
        through a shield, so a waiter that is cancelled (a host giving up on ``push_many``) cancels neither the
        write nor the others' wait, and leaves the write pending for whoever comes next.
        """
        tasks = rec.tasks
        pending = asyncio.ensure_future(tasks.pending)  # type: ignore[arg-type]
        tasks.pending = pending
        settled = True
        try:
            await asyncio.shield(pending)
        except asyncio.CancelledError:
            settled = pending.done()
            raise
        except Exception as exc:
            if not rec.status.terminal:
                self.fail(rec, f"checkpoint failed: {failure_text(exc)}")
        finally:
            if settled and tasks.pending is pending:
                tasks.pending = None

    def end(self, rec: StreamRecord) -> None:
        """The input ended and the queue is empty: run ``:on-end`` (if any), then complete.

        If the input ended because the source failed, the stream goes to ``:error`` instead (no ``:on-end``).
        """
        if rec.source_failure is not None:
            self.fail(rec, rec.source_failure)
            return
        if TURN.halted:
            return  # a shutdown: the stream ends when it is resumed
        t = transition(rec.status, Event.END)
        fn = rec.program.on_end
        if t.run_on_end and fn is not None:
            label = f"on-end {name_of(fn)}"
            try:
                if takes_meta(fn, (1, 2), "on-end function"):
                    meta = {STREAM_ID: rec.id, SEQ: rec.seq, SOURCE: rec.source_kind, ENDED_AT: self.clock()}
                    value = fn(rec.state, meta)
                else:
                    value = fn(rec.state)
                new_state, _, outs, _ = interpret(value, rec.state, label, rec.program.result_mode)
                guard = rec.program.guard
                if guard is not None:
                    guard.check_end(rec.id, new_state, outs)
                rec.state = new_state
                if outs:
                    self.emit(rec, outs)
            except Halted:
                return  # stopped part way by a shutdown: it runs again when the stream is resumed
            except Exception as exc:
                self.fail(rec, f"{label} failed: {failure_text(exc)}")
                return
        if self.persistence is not None:
            # a stream whose last snapshot cannot be stored has not completed: nothing of it would be kept
            problem = self.persistence.unstorable(rec)
            if problem is not None:
                self.fail(rec, f"its snapshot cannot be stored: {problem}")
                return
        self.carry_out(rec, rec.apply(Event.END))

    # --- shutting down ------------------------------------------------------------------------------------------

    async def stop(self, records: list[StreamRecord], reason: str) -> None:
        """Close streams for intake and stop their tasks between batches; writes in flight are settled.

        Queued chunks stay queued (a snapshot keeps them); the streams keep their status.
        """
        stopping = []
        for rec in records:
            tasks = rec.tasks
            tasks.closed = reason
            for task in (tasks.reader, tasks.worker):
                if task is not None and task is not asyncio.current_task():
                    task.cancel()
                    stopping.append(task)
            _wake(tasks.space_waiters)
            _wake(tasks.done_waiters)
            tasks.space_waiters = tasks.done_waiters = None
        if stopping:
            await asyncio.gather(*stopping, return_exceptions=True)
        for rec in records:
            if rec.tasks.pending is not None:
                await self.settle(rec)

    async def close(self, *, for_good: bool = False) -> None:
        """Stop intake and every stream's tasks; queued chunks stay queued (for snapshots)."""
        self.closed = True
        for rec in self.streams.values():
            self.timers.disarm_all(rec)
        if for_good:
            for rec in self.streams.values():
                if rec.tasks.source is not None:
                    rec.tasks.source.closing_for_good = True
        await self.stop(list(self.streams.values()), SHUT_DOWN)
        _wake(self.all_done)
        for sub in list(self.hub.subs):
            sub.close()


def _wake(waiters: list[asyncio.Future[None]] | None) -> None:
    if waiters:
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        waiters.clear()


async def _in_turn(first: Awaitable[None], second: Awaitable[None]) -> None:
    await first
    await second
