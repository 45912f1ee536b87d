"""A stream's source reader: pull items only when there is room, and turn a source's failure into ``:error``.

A reader task pulls from its source only while the stream's queue has room; when it is full the reader drains it
itself (an active stream) or waits (a paused one), so a full queue holds the source back and a network source is
slowed by TCP. A source that gives up does not fail its stream at once: what it already delivered is processed
first, and the ``:error`` message names the source (:func:`source_failure_message`), which is what lets a resume
tell a source's failure (reopen it) from a processor's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from streamrt.policy.guard import OnError
from streamrt.printer import pr_str
from streamrt.runtime.callables import failure_text
from streamrt.runtime.engine import Engine
from streamrt.runtime.feeding import Feeder
from streamrt.runtime.machine import DIRECTIVES, KNOWN_ACTIONS, Status
from streamrt.runtime.stream import StreamRecord
from streamrt.secrets import redact_url
from streamrt.sources.base import Chunk, ChunkFault, ChunkRun, Control, Item, Source
from streamrt.values import Keyword

__all__ = ["SourceReader", "is_source_failure", "source_failure_message"]


def source_failure_message(uri: str, exc: BaseException) -> str:
    """A stream's ``:error`` message when its source failed: ``source URI: cause`` (no user info in the URI)."""
    label = redact_url(uri)
    cause = failure_text(exc)
    return f"source {label}: {cause.removeprefix(f'{label}: ')}"


def is_source_failure(message: str | None, uri: str | None) -> bool:
    """Whether an ``:error`` message says the source at ``uri`` failed (such a stream may be resumed)."""
    return message is not None and uri is not None and message.startswith(f"source {redact_url(uri)}: ")


class SourceReader:
    """Reads the sources of an engine's streams, one task per stream."""

    def __init__(self, engine: Engine, feeder: Feeder) -> None:
        self.engine = engine
        self.feeder = feeder

    def start(self, rec: StreamRecord, source: Source, loop: asyncio.AbstractEventLoop) -> None:
        """Attach ``source`` to the stream and start its reader task."""
        tasks = rec.tasks
        tasks.source = source
        tasks.reader = loop.create_task(self.read(rec, source), name=f"streamrt-source-{rec.id}")

    async def read(self, rec: StreamRecord, source: Source) -> None:
        """Pull items only when the queue has room, so a full queue holds the source back.

        A source hands its items a read at a time (:meth:`Source.item_batches`: a block of JSON lines, a single
        event); they are taken while the queue has room, and when it is full the reader drains it (or waits) before
        taking the rest, so a snapshot sees each item queued or not yet taken, never skipped."""
        engine = self.engine
        tasks = rec.tasks
        queue = rec.queue
        try:
            async with source:
                batches = source.item_batches().__aiter__()
                try:
                    while not rec.status.terminal and tasks.closed is None:
                        if len(queue) >= queue.capacity:
                            await self.feeder.make_room(rec)
                            continue
                        try:
                            batch = await batches.__anext__()
                        except StopAsyncIteration:
                            engine.end_input(rec)
                            return
                        i, n = 0, len(batch)
                        while i < n:
                            if rec.status.terminal or tasks.closed is not None:
                                return
                            if len(queue) >= queue.capacity:
                                await self.feeder.make_room(rec)
                                continue
                            if type(batch) is ChunkRun:
                                i = self.take_run(rec, batch, i)
                            else:
                                i = self.take_many(rec, batch, i)
                finally:
                    aclose = getattr(batches, "aclose", None)
                    if aclose is not None:
                        await aclose()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not rec.status.terminal:
                self.source_failed(rec, source.redact(source_failure_message(source.uri, exc)))

    def source_failed(self, rec: StreamRecord, message: str) -> None:
        """The source gave up: process what it already delivered (in order, as usual), then go to ``:error``.

        Failing at once would discard the queue, and the continuation already points past those chunks, so a
        resumed stream would never see them. The input is not marked ended: a snapshot taken meanwhile must make
        a resume reopen the source, not complete the stream.
        """
        rec.source_failure = message
        if not rec.queue:
            self.engine.fail(rec, message)
        elif rec.status is Status.ACTIVE and rec.tasks.worker is None:
            self.engine.schedule(rec)

    def take_run(self, rec: StreamRecord, run: ChunkRun, i: int) -> int:
        """Take ``run[i:]`` while the queue has room (the stream is live and open), as :meth:`take_many` takes
        chunks but in one step: the index of the first chunk not taken. The stream's continuation is that of the
        last chunk taken only, made when something reads it (:meth:`StreamRecord.continue_after`)."""
        queue = rec.queue
        end = min(len(run.values), i + queue.capacity - len(queue))
        if end <= i:
            return i
        metas = run.metas if self.meta_seen(rec) else None
        t = rec.offer_run(run.values, metas, i, end, self.engine.clock())
        rec.continue_after(run.continuation_at, end - 1)
        if t.process and rec.tasks.worker is None:
            self.engine.schedule(rec)
        return end

    def meta_seen(self, rec: StreamRecord) -> bool:
        """Whether anything of the stream sees a queued chunk's metadata: a processor that takes it, a dead letter
        (``:on-error :dead-letter``), a snapshot (the queue is kept with it). Else a run's metadata is not made
        (nor queued: ``inspect``'s queue shows none for its chunks, as for a host's chunks pushed without)."""
        program = rec.program
        guard = program.guard
        return (
            program.takes_meta
            or self.engine.persistence is not None
            or (guard is not None and guard.on_error is OnError.DEAD_LETTER)
        )

    def take_many(self, rec: StreamRecord, items: Sequence[Item], i: int) -> int:
        """Take ``items[i:]`` while the queue has room (the stream is live and open); the index of the first item
        not taken. Chunks are accepted in one loop, all at one clock reading, as ``push_many`` accepts them; any
        other item goes through :meth:`take` alone, and the caller looks at the stream again after it."""
        queue = rec.queue
        end = min(len(items), i + queue.capacity - len(queue))
        offer = rec.offer
        now = self.engine.clock()
        process = False
        start = i
        while i < end:
            item = items[i]
            if type(item) is not Chunk:
                if i == start:
                    self.take(rec, item)
                    i += 1
                break
            i += 1
            if item.continuation is not None:
                rec.continuation = item.continuation
            process = offer(item.value, item.meta or None, now).process
        if process and rec.tasks.worker is None:
            self.engine.schedule(rec)
        return i

    def take(self, rec: StreamRecord, item: Chunk | Control | ChunkFault) -> None:
        """One item from the source: a chunk is accepted, a control event applied, a fault queued as one."""
        engine = self.engine
        if item.continuation is not None:
            rec.continuation = item.continuation
        if type(item) is Chunk:
            engine.intake(rec, item.value, item.meta)
        elif type(item) is Control:
            event = DIRECTIVES.get(item.action) if isinstance(item.action, Keyword) else None
            if event is None:
                known = " ".join(pr_str(k) for k in KNOWN_ACTIONS)
                engine.fail(rec, f"source sent unknown control action {pr_str(item.action)}; known: {known}")
            else:
                t = rec.apply(event)
                if not t.reject:
                    engine.carry_out(rec, t)
        elif type(item) is ChunkFault:
            if (
                rec.offer_fault(item.message, item.raw, item.meta or None, engine.clock()).process
                and rec.tasks.worker is None
            ):
                engine.schedule(rec)
        else:
            engine.fail(rec, f"source yielded {type(item).__name__}, not a Chunk, Control or ChunkFault")
