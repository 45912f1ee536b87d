"""Timers: a processor asks to be called back later, and the runtime calls it with a timer chunk.

Theory of operation
-------------------
A result's ``:timers`` (``{:flush 1000}``, ``{:close {:at ms}}``, ``{:flush nil}``; checked by
:func:`~streamrt.runtime.contract.interpret`) sets, moves or cancels named timers of its stream. A stream keeps at
most one timer per name, as a due time in seconds since the epoch on the provider's clock (``rec.timers``); the
:class:`Timers` of the engine arms each with the clock, so time is the runtime's: the system clock through the
event loop, or a fake one in tests (:class:`TimerClock`, :class:`streamrt.testing.FakeClock`).

A timer that comes due is not run at once: it joins the stream's *due* list with the number of the last chunk
accepted before it (``rec.due``), and runs when every chunk accepted before it has been processed, so a timer
never overtakes a chunk that arrived earlier. It runs through the stream's own generated chunk loop, as one chunk
``{:timer name :time ms}`` (``:time`` the processing time it was due for) with the metadata ``{:kind "timer"
:timer name}``; its result is read like any other (its state, outputs, actions and new timers), but it is not a
chunk of the input: it takes no sequence number and is not counted as processed (``:seq`` is the last chunk's).
With persistence, the stream is snapshotted after each timer run, so a timer that ran is not run again on resume.

Only an active stream runs timers: a paused one keeps those that come due until it is resumed, and a terminal one
drops them. A snapshot keeps a stream's timers, due or not (:attr:`~streamrt.store.Snapshot.timers`); a resumed
stream arms them again, and those whose time passed meanwhile come due at once, once each. A stream that never
sets a timer pays one attribute check per batch.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from streamrt.errors import EffectDeniedError, UsageError
from streamrt.lang.turn import Halted
from streamrt.meta import KIND, TIMER
from streamrt.printer import pr_str
from streamrt.runtime.contract import TimerRequest
from streamrt.runtime.machine import Status, Transition
from streamrt.runtime.stream import LoopHost, StreamRecord
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.runtime.ports import Persistence

__all__ = ["TIME", "TIMER_KIND", "Cancellable", "TimerClock", "TimerHost", "Timers", "timer_chunk"]

TIME: Final = Keyword("time")
"""The key of a timer chunk that holds the processing time (ms since the epoch) the timer was due for."""
TIMER_KIND: Final = "timer"
"""``(:kind meta)`` of a timer chunk."""
_ACTIVE: Final = Status.ACTIVE


class Cancellable(Protocol):
    def cancel(self) -> Any: ...


class TimerClock(Protocol):
    """A provider clock that also schedules (a fake clock in tests); a plain ``() -> float`` clock is scheduled
    through the event loop instead."""

    def __call__(self) -> float: ...
    def call_at(self, when: float, callback: Callable[[], None]) -> Cancellable: ...


class TimerHost(LoopHost, Protocol):
    """What timers ask of the engine whose streams they belong to (:class:`~streamrt.runtime.engine.Engine`): its
    clock and streams, to schedule a stream, and to run a timer chunk through the stream's loop as its host."""

    @property
    def clock(self) -> Callable[[], float]: ...
    @property
    def streams(self) -> Mapping[str, StreamRecord]: ...
    @property
    def persistence(self) -> Persistence | None: ...
    def event_loop(self) -> asyncio.AbstractEventLoop: ...
    def schedule(self, rec: StreamRecord) -> None: ...


def timer_chunk(name: Any, due: float) -> tuple[dict[Keyword, Any], dict[Keyword, Any]]:
    """The chunk and metadata a timer ``name`` due at ``due`` (seconds) runs with."""
    return {TIMER: name, TIME: round(due * 1000)}, {KIND: TIMER_KIND, TIMER: name}


class Timers:
    """The timers of one engine's streams: set from results, armed with the clock, run when due."""

    def __init__(self, engine: TimerHost) -> None:
        self.engine = engine
        self.refusal: str | None = None
        """Why timers are refused (the host denies the ``:clock`` effect), or None."""

    # --- setting ---------------------------------------------------------------------------------------------

    def set(self, rec: StreamRecord, request: TimerRequest) -> None:
        """Apply a result's ``:timers``; raises EffectDeniedError when the host denies the clock."""
        if self.refusal is not None:
            raise EffectDeniedError(
                f"the result sets timers, which need the :clock effect, but {self.refusal}",
                capability="timers",
                effect="clock",
            )
        now = self.engine.clock()
        timers = rec.timers
        if timers is None:
            timers = rec.timers = {}
        for name, ms, absolute in request:
            self._disarm(rec, name)
            self._undue(rec, name)
            if ms is None:
                timers.pop(name, None)
                continue
            due = ms / 1000.0 if absolute else now + ms / 1000.0
            timers[name] = due
            self._arm(rec, name, due)

    def arm_all(self, rec: StreamRecord) -> None:
        """Arm every timer of ``rec`` (a restored stream): those already due come due at once."""
        if rec.timers and not rec.status.terminal:
            for name, due in rec.timers.items():
                self._arm(rec, name, due)

    def disarm_all(self, rec: StreamRecord) -> None:
        """Stop the clock calling back for ``rec`` (it ended, or left the provider); its timers stay recorded."""
        handles = rec.tasks.timer_handles
        if handles:
            for handle in handles.values():
                handle.cancel()
            handles.clear()

    # --- the clock's side --------------------------------------------------------------------------------------

    def _arm(self, rec: StreamRecord, name: Any, due: float) -> None:
        engine = self.engine
        clock: Any = engine.clock
        callback = lambda: self._fire(rec, name, due)  # noqa: E731
        if hasattr(clock, "call_at"):
            handle: Cancellable = clock.call_at(due, callback)
        else:
            loop = engine.event_loop()
            handle = loop.call_later(max(due - clock(), 0.0), callback)
        handles = rec.tasks.timer_handles
        if handles is None:
            handles = rec.tasks.timer_handles = {}
        handles[name] = handle

    def _disarm(self, rec: StreamRecord, name: Any) -> None:
        handles = rec.tasks.timer_handles
        if handles:
            handle = handles.pop(name, None)
            if handle is not None:
                handle.cancel()

    def _undue(self, rec: StreamRecord, name: Any) -> None:
        due = rec.due
        if due and any(entry[0] == name for entry in due):
            rec.due = deque(entry for entry in due if entry[0] != name) or None

    def _fire(self, rec: StreamRecord, name: Any, due: float) -> None:
        """The clock says ``name`` is due: it waits for the chunks accepted before it, then runs."""
        handles = rec.tasks.timer_handles
        if handles is not None:
            handles.pop(name, None)
        timers = rec.timers
        if timers is None or timers.get(name) != due:
            return  # moved or cancelled since
        del timers[name]
        engine = self.engine
        if rec.status.terminal or engine.streams.get(rec.id) is not rec:
            return
        if rec.due is None:
            rec.due = deque()
        rec.due.append((name, rec.seq, due))
        if rec.status is _ACTIVE and rec.tasks.worker is None:
            engine.schedule(rec)

    # --- running -------------------------------------------------------------------------------------------------

    def run_next(self, rec: StreamRecord) -> int:
        """Run the first due timer of ``rec`` through its chunk loop (1), unless it is a chunk's turn (0)."""
        due = rec.due
        assert due is not None
        queue = rec.queue
        if queue and queue[0][0] <= due[0][1]:
            return 0
        timer = due.popleft()
        name, _, when = timer
        if not due:
            rec.due = None
        engine = self.engine
        chunk, meta = timer_chunk(name, when)
        last = rec.seq - len(queue)
        entry = (last, chunk, meta, engine.clock())
        try:
            rec.program.loops.queued(_TimerRun(engine, name), rec, iter((entry,)), None, 0.0, last)
        except Halted:
            # a halt (a shutdown) stopped the processor part way: the timer stays due, first
            rec.due = deque((timer, *(rec.due or ())))
            return 1
        rec.timers_run += 1
        persistence = engine.persistence
        if persistence is not None and not rec.status.terminal and rec.tasks.pending is None:
            rec.tasks.pending = persistence.checkpoint(rec)
        return 1


class _TimerRun:
    """The loop's host while it runs a timer: the engine, with failures named after the timer."""

    __slots__ = ("engine", "label")

    def __init__(self, engine: TimerHost, name: Any) -> None:
        self.engine = engine
        self.label = f"timer {pr_str(name)}"

    def emit(self, rec: StreamRecord, values: tuple[Any, ...]) -> None:
        self.engine.emit(rec, values)

    def carry_out(self, rec: StreamRecord, t: Transition, seq: int | None = None) -> None:
        self.engine.carry_out(rec, t, seq)

    def set_timers(self, rec: StreamRecord, request: TimerRequest) -> None:
        self.engine.set_timers(rec, request)

    def fail(self, rec: StreamRecord, message: str, seq: int | None = None) -> None:
        prefix = f"chunk {seq}: "
        if message.startswith(prefix):
            message = f"{self.label}: {message[len(prefix) :]}"
        self.engine.fail(rec, message, seq)

    def skip(
        self, rec: StreamRecord, exc: Exception, seq: int, chunk: Any, meta: Any, received: float
    ) -> bool:
        return self.engine.skip(rec, exc, seq, chunk, meta, received)

    def batch_done(self, rec: StreamRecord, n: int, received: float, queued: bool) -> None:
        self.engine.batch_done(rec, n, received, queued)


def event_loop_of(engine_loop: asyncio.AbstractEventLoop | None) -> asyncio.AbstractEventLoop:
    """The running event loop, else the provider's; a UsageError when there is neither."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        if engine_loop is None or engine_loop.is_closed():
            raise UsageError("the provider needs a running event loop; call this from inside it") from None
        return engine_loop
