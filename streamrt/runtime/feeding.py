"""The producer's side of a stream: waiting for room, draining a full queue itself, and the hand-off.

Theory of operation
-------------------
A chunk a host pushes is accepted at once when the queue has room (:meth:`Engine.intake
<streamrt.runtime.engine.Engine.intake>`). When it is full, the producer does not just wait for the stream's worker:

- an active stream is drained right here, by the producer, one batch at a time (:meth:`Feeder.make_room`: a
  direct hand-off, no task switch per batch; the FIFO keeps the order whoever processes it), and the producer
  yields once every ``YIELD_EVERY`` chunks, or sooner once a turn's time is used (:mod:`streamrt.lang.turn`), so
  that other tasks get their turn however slow the processor; a paused stream makes it wait
  (:meth:`Feeder.wait_room`), timed as backpressure, up to a deadline when the host gave one;
- ``push_many``'s producer, once it has drained a full queue and nothing is queued or in flight, processes the rest
  of its chunks straight from the host's iterable, ``HAND_OFF`` at a time, numbering each as it is taken
  (:meth:`Feeder.hand_off`). With the queue empty that is the same order and outcome as queueing and draining,
  without the deque round trip; the moment the stream stops being active (or a write is in flight, or another
  producer queues a chunk) the remaining chunks go back to the queue path. A stream with an input schema fed a
  list or a tuple takes each batch at once, so the schema is checked over the whole batch in one call, as over a
  queued batch.

After each batch the producer asks the snapshot policy, as the worker does, and waits for a write it says the
stream must wait for before it takes another chunk, so a snapshot sees each chunk either processed or not yet
taken from the host's iterable (not yet accepted): never in between.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterable, Iterator
from typing import Any, Final

from streamrt.errors import QueueFullError, StreamClosedError, UsageError
from streamrt.lang.turn import TURN, TURN_S
from streamrt.runtime.engine import Engine
from streamrt.runtime.machine import Status
from streamrt.runtime.stream import StreamRecord
from streamrt.values import Keyword

__all__ = ["HAND_OFF", "YIELD_EVERY", "Feeder", "deadline_after"]

YIELD_EVERY = 256
"""Chunks a producer processes itself, over its batches, before it yields to the event loop."""
HAND_OFF = 1024
"""Chunks a producer's hand-off processes in one batch (:meth:`Feeder.hand_off`) before it looks around; 0 turns
the hand-off off (every chunk then goes through the queue: the same outcome, slower)."""

_ACTIVE: Final = Status.ACTIVE
_ABSENT: Final[Any] = object()
_INERT: Final[tuple[type, ...]] = (type(iter([])), type(iter(())))
"""Iterators that taking a chunk from early changes nothing anyone can see (no code runs, nothing can raise)."""


class Feeder:
    """What producers (host pushes, source readers) do to a stream whose queue is full."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.inline = 0
        """Chunks producers processed since one of them last yielded."""
        self.yielded = time.perf_counter()
        """When one of them last yielded."""

    async def take_turns(self) -> None:
        """After a batch a producer processed itself: yield to the event loop once every ``YIELD_EVERY`` chunks or
        once a turn's time (:data:`~streamrt.lang.turn.TURN_S`) is used, whichever comes first."""
        now = time.perf_counter()
        if self.inline >= YIELD_EVERY or now - self.yielded >= TURN_S:
            self.inline = 0
            await asyncio.sleep(0)
            self.yielded = time.perf_counter()

    async def room_within(self, rec: StreamRecord, timeout: float | None) -> None:
        """``Provider.push`` found the queue full: make room (:meth:`make_room`), or raise QueueFullError when none
        came within ``timeout`` seconds (the chunk is not taken, so a retry cannot apply it twice)."""
        deadline = None if timeout is None else deadline_after(timeout)
        if not await self.make_room(rec, deadline=deadline):
            raise QueueFullError(
                f"stream {rec.id}: no room in the queue within {timeout:g} s; the chunk was not taken"
            )

    async def wait_for_room(self, rec: StreamRecord, timeout: float | None) -> bool:
        """Until the queue has room (True) or ``timeout`` seconds passed (False), draining an active stream's
        queue as a producer does (see ``Provider.wait_for_room``); StreamClosedError if it takes no more chunks."""
        queue = rec.queue
        if len(queue) >= queue.capacity:
            deadline = None if timeout is None else deadline_after(timeout)
            if not await self.make_room(rec, deadline=deadline):
                return False
        closed = rec.tasks.closed
        if rec.status.terminal or closed is not None:
            why = closed or f"it is {rec.status.value}"
            raise StreamClosedError(f"stream {rec.id} takes no more chunks: {why}")
        return True

    async def push_many(
        self,
        rec: StreamRecord,
        chunks: Iterable[Any],
        meta: dict[Keyword, Any] | None,
        deadline: float | None,
    ) -> int:
        """Accept ``chunks`` in order (see ``Provider.push_many``); how many were accepted."""
        engine = self.engine
        it: Iterator[Any] = iter(chunks)
        total = 0
        queue = rec.queue
        chunk = next(it, _ABSENT)
        while chunk is not _ABSENT:
            if len(queue) >= queue.capacity:
                if not await self.make_room(rec, drain=True, deadline=deadline):
                    break  # no room in time: ``chunk`` is not accepted (nor counted)
                if self.can_hand_off(rec):
                    # The producer outran the stream: process the rest straight from ``it`` while nothing else
                    # is queued or in flight (a pause, an end or a write hands the rest back to the queue).
                    done, rest = await self.hand_off(rec, chunk, it, meta)
                    total += done
                    if rest is None:
                        break
                    it = rest
                    chunk = next(it, _ABSENT)
                    continue
            engine.intake(rec, chunk, meta)  # raises (and counts) when the stream or the provider is closed
            total += 1 + rec.offer_many(it, meta, engine.clock())
            chunk = next(it, _ABSENT)
        return total

    async def make_room(
        self, rec: StreamRecord, *, drain: bool = False, deadline: float | None = None
    ) -> bool:
        """Return once the queue has room (with ``drain``: is empty), the stream is over or closed for intake;
        False if ``deadline`` (the event loop's clock) passed first.

        An active stream is drained right here, by the producer, one batch at a time; the producer then yields
        as :meth:`take_turns` says, so other tasks get their turn. A paused stream makes the producer wait,
        timed as backpressure. ``drain`` is ``push_many``'s, whose producer goes on processing straight from its
        iterable once the queue is empty and nothing is in flight (:meth:`hand_off`): an active stream's queue is
        drained to the end, and a write the stream waits for meanwhile is waited for here too.
        """
        engine = self.engine
        tasks = rec.tasks
        while not rec.status.terminal and tasks.closed is None:
            # halted (a shutdown): nothing is processed, so the producer waits as for a paused stream
            if drain and rec.status is _ACTIVE and not TURN.halted:
                if tasks.pending is not None:
                    await engine.settle(rec)
                    continue
                if not rec.queue:
                    return True
            elif len(rec.queue) < rec.queue.capacity:
                return True
            if (
                rec.status is _ACTIVE
                and tasks.pending is None
                and not TURN.halted
                and (drain or tasks.worker is None or rec.pace >= tasks.batch)
            ):
                # (a stream with a worker whose batch outlasts half a turn is left to its worker, so it takes
                # one turn at a time rather than one per task that feeds it)
                self.inline += engine.run_batch(rec)
                if engine.persistence is not None:
                    engine.ask_policy(rec)
                    if tasks.pending is not None:
                        await engine.settle(rec)
                engine.after_batch(rec)
                await self.take_turns()
            elif not await self.wait_room(rec, deadline):
                return False
        return True

    async def wait_room(self, rec: StreamRecord, deadline: float | None = None) -> bool:
        """Wait until the queue has room, the stream is over or closed, timed as backpressure; False if
        ``deadline`` passed first. Returns early when the stream can be drained by the caller."""
        loop = asyncio.get_running_loop()
        engine = self.engine
        tasks = rec.tasks
        started = engine.clock()
        try:
            while len(rec.queue) >= rec.queue.capacity and not rec.status.terminal and tasks.closed is None:
                fut: asyncio.Future[None] = loop.create_future()
                if tasks.space_waiters is None:
                    tasks.space_waiters = []
                tasks.space_waiters.append(fut)
                if deadline is None:
                    await fut
                else:
                    try:
                        async with asyncio.timeout_at(deadline):
                            await fut
                    except TimeoutError:
                        waiters = tasks.space_waiters
                        if waiters is not None and fut in waiters:
                            waiters.remove(fut)
                        return False
                if rec.status is _ACTIVE and tasks.pending is None:
                    return True
        finally:
            rec.backpressure_wait += engine.clock() - started
        return True

    def can_hand_off(self, rec: StreamRecord) -> bool:
        """Whether a producer may process its chunks itself, skipping the queue (nothing queued or in flight)."""
        tasks = rec.tasks
        return (
            rec.status is _ACTIVE
            and not rec.queue
            and tasks.pending is None
            and tasks.closed is None
            and rec.due is None
            and HAND_OFF > 0
        )

    async def hand_off(
        self, rec: StreamRecord, first: Any, rest: Iterator[Any], meta: dict[Keyword, Any] | None
    ) -> tuple[int, Iterator[Any] | None]:
        """Process ``first`` and then chunks from ``rest`` directly, batch by batch, while :meth:`can_hand_off`
        holds; the queue is not touched. Returns how many it processed and what is left of ``rest`` (None: it ran
        out); the caller queues that as usual.

        A chunk is taken from ``rest`` only when it is about to be processed, so a pause or an end stops
        consumption at once; the processed ones are counted in ``seq`` and ``processed`` as they go. After each
        batch the snapshot policy is asked, as after a queued batch a producer drains, and a write it says the
        stream must wait for is awaited before the next chunk is taken; a write the batch itself set off (a
        checkpoint, a dead letter) ends the hand-off instead: a worker settles it. A stream with an input schema
        fed a list or a tuple takes a whole batch at once (nobody can see that), so the schema checks it in one
        call; what it did not process is handed back.
        """
        engine = self.engine
        program = rec.program
        loops = program.loops
        schema = program.guard.input if program.guard is not None else None
        ahead = schema is not None and type(rest) in _INERT
        persistence = engine.persistence
        tasks = rec.tasks
        total = 0
        while True:
            size = HAND_OFF
            if persistence is not None:
                size = min(persistence.span(rec) or HAND_OFF, HAND_OFF)
            start = rec.seq
            received = engine.clock()
            taken: list[Any] = []
            head = () if first is _ABSENT else (first,)
            first = _ABSENT
            try:
                if ahead:
                    taken = [*head, *itertools.islice(rest, size - len(head))]
                    if not taken:
                        return total, None
                    checked = not schema.check_all(taken)  # type: ignore[union-attr]
                    loop = loops.handoff_checked if checked else loops.handoff
                    n = loop(engine, rec, enumerate(taken, start + 1), meta, received, start)  # type: ignore[misc]
                    ran_out = n == len(taken) < size
                else:
                    loop = loops.handoff_checked or loops.handoff
                    chunks = enumerate(
                        itertools.chain(head, itertools.islice(rest, size - len(head))), start + 1
                    )
                    n = loop(engine, rec, chunks, meta, received, start)
                    # fewer than asked for, with nothing that stops a batch (a status, a write, a halt that put
                    # a chunk back in the queue, a turn that is over): ``rest`` ran out
                    ran_out = (
                        n < size
                        and rec.status is _ACTIVE
                        and tasks.pending is None
                        and not rec.queue
                        and (n == 0 or time.perf_counter() < TURN.deadline)
                    )
            except BaseException:
                # the host's iterable raised: the producer leaves; the chunks it processed are the policy's all the same
                engine.ask_policy(rec)
                if tasks.pending is not None:
                    engine.schedule(rec)  # a worker settles the write, as the producer cannot
                raise
            total += n
            if tasks.pending is not None:
                # a write the batch set off that the stream must wait for: a worker settles it, and the producer
                # hands the rest to the queue
                if tasks.worker is None:
                    engine.schedule(rec)
            else:
                engine.ask_policy(rec)
                if tasks.pending is not None:
                    # the policy's wait (its previous snapshot is not committed yet, or one turn for the write to
                    # start): awaited right here, as by a producer that drained a queued batch
                    await engine.settle(rec)
            engine.after_batch(rec)
            if ahead and n < len(taken):
                return total, itertools.chain(taken[n:], rest)
            if ran_out:
                return total, None
            self.inline += n
            await self.take_turns()
            if not self.can_hand_off(rec):
                return total, rest


def deadline_after(timeout: float) -> float:
    """The event loop's time ``timeout`` seconds from now (a host's ``timeout=`` argument, checked)."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
        raise UsageError(f"timeout must be a non-negative number of seconds, got {timeout!r}")
    return asyncio.get_running_loop().time() + timeout
