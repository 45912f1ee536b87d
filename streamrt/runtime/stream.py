"""The per-stream record: identity, processor, state, status, the bounded queue and the stats.

This is the synchronous core, in the spirit of anyio's ``MemoryObjectStream``: :meth:`StreamRecord.offer` never
waits (it raises :class:`~streamrt.errors.QueueFullError` when the queue is full) and :meth:`StreamRecord.apply`
changes the status through the directive machine and does the bookkeeping the transition asks for. The asyncio
provider adds waiting, scheduling and I/O on top.

A record is kept small (``__slots__``, counters as plain attributes, stats built only when asked for) because a
provider may hold tens of thousands of idle streams. A queue entry is the tuple ``(seq, chunk, meta, enqueued_at)``
where ``meta`` is the source's metadata for the chunk (or ``None``) and ``enqueued_at`` the clock reading at
acceptance (it is also the chunk's ``:received-at``).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator
from itertools import repeat
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from streamrt.errors import QueueFullError, StreamClosedError, UsageError
from streamrt.runtime.machine import Event, Status, Transition, transition
from streamrt.sources.base import Continuation
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.policy.guard import Guard

__all__ = [
    "DEFAULT_QUEUE_CAPACITY",
    "Entry",
    "StreamRecord",
    "StreamStats",
]

DEFAULT_QUEUE_CAPACITY: Final = 32

_ON_CHUNK: Final = {status: transition(status, Event.CHUNK) for status in Status}
"""The machine's answer to a chunk in each status, looked up once per chunk."""

Entry = tuple[int, Any, Any, float]
"""A queued chunk: ``(seq, chunk, source meta or None, enqueued_at)``; the provider may put a private marker in
the meta slot (a source's undecodable chunk)."""


class StreamStats(NamedTuple):
    """A stream's counters at one moment (what inspect and metrics read)."""

    processed: int
    """Chunks handed to the processor (a chunk whose processing failed counts too)."""
    queued: int
    """Chunks accepted and waiting."""
    dropped: int
    """Chunks accepted or offered but never processed: discarded by cancel or a terminal status, or refused."""
    errors: int
    """Failures: processor exceptions, contract violations, undecodable source chunks."""
    outputs: int
    """Values emitted."""
    last_latency: float | None
    """Seconds from acceptance to the end of processing, for the last chunk processed."""
    last_event_time: float | None
    """Clock reading when the last chunk was processed."""
    queue_high_watermark: int
    """The deepest the queue has been."""
    backpressure_wait: float
    """Seconds producers spent waiting for room in the queue."""
    skipped: int = 0
    """Chunks that failed and were passed over under ``:on-error :skip`` or ``:dead-letter`` (also in ``errors``)."""
    dead_lettered: int = 0
    """Of those, the chunks kept as dead letters (in the store, or in memory without one)."""


class StreamRecord:
    """One stream's state and bookkeeping; mutated only by its provider (single-threaded)."""

    __slots__ = (
        "backpressure_wait",
        "capacity",
        "continuation",
        "dead_lettered",
        "dropped",
        "errors",
        "guard",
        "id",
        "initial_state",
        "input_ended",
        "last_event_time",
        "last_latency",
        "message",
        "on_end",
        "options",
        "output_seq",
        "outputs",
        "processed",
        "processor",
        "processor_name",
        "queue",
        "queue_high_watermark",
        "seq",
        "skipped",
        "source_kind",
        "state",
        "status",
        "takes_meta",
    )

    def __init__(
        self,
        stream_id: str,
        processor: Callable[..., Any],
        *,
        processor_name: str,
        takes_meta: bool,
        initial_state: Any,
        capacity: int = DEFAULT_QUEUE_CAPACITY,
        options: dict[Keyword, Any] | None = None,
        on_end: Callable[..., Any] | None = None,
        source_kind: str = "host",
    ) -> None:
        if type(capacity) is not int or capacity < 1:
            raise UsageError(
                f"stream {stream_id}: queue capacity must be a positive integer, got {capacity!r}"
            )
        self.id = stream_id
        self.processor = processor
        self.processor_name = processor_name
        self.takes_meta = takes_meta
        self.state = initial_state
        self.initial_state = initial_state
        self.status = Status.ACTIVE
        self.message: str | None = None
        self.queue: deque[Entry] = deque()
        self.capacity = capacity
        self.seq = 0
        self.output_seq = 0
        self.continuation: Continuation | None = None
        self.options = options
        self.on_end = on_end
        self.source_kind = source_kind
        self.input_ended = False
        self.processed = 0
        self.dropped = 0
        self.errors = 0
        self.outputs = 0
        self.last_latency: float | None = None
        self.last_event_time: float | None = None
        self.queue_high_watermark = 0
        self.backpressure_wait = 0.0
        self.guard: Guard | None = None
        """Schemas and ``:on-error`` policy (:mod:`streamrt.policy.guard`); None: the plain, unchecked loop."""
        self.skipped = 0
        self.dead_lettered = 0

    def __repr__(self) -> str:
        return f"<StreamRecord {self.id} {self.status.value} queued={len(self.queue)}>"

    @property
    def full(self) -> bool:
        return len(self.queue) >= self.capacity

    def offer(self, chunk: Any, meta: dict[Keyword, Any] | None, now: float) -> Transition:
        """Accept ``chunk`` without waiting.

        Raises :class:`QueueFullError` (nothing counted: the caller keeps the chunk) when a live stream's queue is
        full, and :class:`StreamClosedError` (the chunk counted as dropped) when the stream is terminal.
        """
        t = _ON_CHUNK[self.status]
        if t.reject:
            self.dropped += 1
            raise StreamClosedError(f"stream {self.id} is {self.status.value}; the chunk was dropped")
        queue = self.queue
        depth = len(queue)
        if depth >= self.capacity:
            raise QueueFullError(f"stream {self.id}: queue full ({self.capacity} chunks waiting)")
        self.seq += 1
        queue.append((self.seq, chunk, meta, now))
        if depth >= self.queue_high_watermark:
            self.queue_high_watermark = depth + 1
        return t

    def offer_many(self, chunks: Iterator[Any], meta: dict[Keyword, Any] | None, now: float) -> int:
        """Accept chunks from ``chunks`` until the queue is full or the iterator ends; return how many.

        All of them share ``meta`` and the acceptance time ``now``. The copying loop runs in C (``deque.extend``
        over ``zip``), which is what makes bulk intake cheap. Raises like :meth:`offer` on a terminal stream (one
        chunk counted as dropped).
        """
        t = _ON_CHUNK[self.status]
        if t.reject:
            self.dropped += 1
            raise StreamClosedError(f"stream {self.id} is {self.status.value}; the chunk was dropped")
        queue = self.queue
        before = len(queue)
        room = self.capacity - before
        if room <= 0:
            return 0
        queue.extend(
            zip(itertools.count(self.seq + 1), itertools.islice(chunks, room), repeat(meta), repeat(now))
        )
        taken = len(queue) - before
        self.seq += taken
        if before + taken > self.queue_high_watermark:
            self.queue_high_watermark = before + taken
        return taken

    def apply(self, event: Event, message: str | None = None) -> Transition:
        """Feed ``event`` to the machine and do the record's part of the effects (discard, count, keep message)."""
        t = transition(self.status, event)
        if t.effects:
            if t.record_error:
                self.errors += 1
                self.message = message
            if t.discard_queue:
                self.dropped += len(self.queue)
                self.queue.clear()
            if t.drop:
                self.dropped += 1
        self.status = t.target
        return t

    def statistics(self) -> StreamStats:
        return StreamStats(
            processed=self.processed,
            queued=len(self.queue),
            dropped=self.dropped,
            errors=self.errors,
            outputs=self.outputs,
            last_latency=self.last_latency,
            last_event_time=self.last_event_time,
            queue_high_watermark=self.queue_high_watermark,
            backpressure_wait=self.backpressure_wait,
            skipped=self.skipped,
            dead_lettered=self.dead_lettered,
        )
