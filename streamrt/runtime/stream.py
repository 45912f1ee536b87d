"""The per-stream record, split by job: what the stream is, how it runs, where it is, what waits, what is queued.

This is the synchronous core, in the spirit of anyio's ``MemoryObjectStream``: :meth:`StreamRecord.offer` never
waits (it raises :class:`~streamrt.errors.QueueFullError` when the queue is full) and :meth:`StreamRecord.apply`
changes the status through the directive machine and does the bookkeeping the transition asks for. The asyncio
engine (:mod:`streamrt.runtime.engine`) adds waiting, scheduling and I/O on top.

A :class:`StreamRecord` holds the stream's *state*: the processor's state, the status, the sequence numbers, the
source's continuation and the counters (everything a snapshot keeps), and one object per other job:

- ``spec`` (:class:`~streamrt.runtime.spec.StreamSpec`): what the stream was asked to be, as data;
- ``program`` (:class:`Program`): the functions it runs, its guard and the chunk loops generated for them;
- ``queue`` (:class:`ChunkQueue`): the bounded FIFO of accepted chunks;
- ``tasks`` (:class:`StreamTasks`): the engine's tasks and waiters, and the write the stream waits for.

Records are kept small (``__slots__``, counters as plain attributes, stats built only when asked for) because a
provider may hold tens of thousands of idle streams. A queue entry is the tuple ``(seq, chunk, meta,
enqueued_at)``: the source's metadata for the chunk (or ``None``) and the clock reading at acceptance (the chunk's
``:received-at``). A chunk the source could not decode is an entry like any other (its chunk the raw text, cut to a
bound, its meta the source's), and the record names it in ``faults`` (``{seq: message}``): when its turn comes the
stream's ``:on-error`` decides, as for a chunk the processor failed on.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from itertools import repeat
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from streamrt.errors import QueueFullError, StreamClosedError, UsageError
from streamrt.policy.guard import Guard
from streamrt.runtime.contract import RESULT_KEYS, STRICT, STRING_RESULT_KEYS, STRINGS
from streamrt.runtime.machine import Event, Status, Transition, transition
from streamrt.runtime.spec import EMPTY_SPEC, StreamSpec
from streamrt.sources.base import Continuation, Source
from streamrt.store.snapshot import DeadLetter
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.runtime.loops import Loops

__all__ = [
    "BATCH",
    "DEFAULT_QUEUE_CAPACITY",
    "ChunkQueue",
    "DeadLetters",
    "Entry",
    "Program",
    "StreamRecord",
    "StreamStats",
    "StreamTasks",
]

DEFAULT_QUEUE_CAPACITY: Final = 32
BATCH: Final = 64
"""Queued chunks a worker processes before it yields to the event loop (so streams take turns)."""

_ON_CHUNK: Final = {status: transition(status, Event.CHUNK) for status in Status}
"""The machine's answer to a chunk in each status, looked up once per chunk."""

Entry = tuple[int, Any, Any, float]
"""A queued chunk: ``(seq, chunk, source meta or None, enqueued_at)``."""


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
    timers_run: int = 0
    """Timer chunks the processor was called with (:mod:`streamrt.runtime.timers`); not in ``processed``."""


class ChunkQueue(deque[Entry]):
    """A stream's accepted chunks, oldest first, with its capacity and the deepest it has been."""

    __slots__ = ("capacity", "high_watermark")

    def __init__(self, capacity: int = DEFAULT_QUEUE_CAPACITY) -> None:
        super().__init__()
        self.capacity = capacity
        self.high_watermark = 0


class Program:
    """How a stream runs its chunks: its functions, its guard, and the loops generated for that configuration
    (streams of one processor without a guard share one)."""

    __slots__ = (
        "__weakref__",
        "guard",
        "loops",
        "max_state",
        "name",
        "on_end",
        "processor",
        "result_mode",
        "shape",
        "state_only",
        "takes_meta",
    )

    def __init__(
        self,
        processor: Callable[..., Any],
        *,
        name: str,
        takes_meta: bool,
        shape: str | None = None,
        on_end: Callable[..., Any] | None = None,
        guard: Guard | None = None,
        loops: Loops,
        max_state: int | None = None,
        result_mode: int = 0,
    ) -> None:
        self.processor = processor
        self.result_mode = result_mode
        """How results are read (:func:`~streamrt.runtime.contract.interpret`'s ``mode``: string keys for a Python
        processor, ``:result :strict``)."""
        self.state_only: Callable[[Any], bool] = _STATE_ONLY[result_mode]
        """Whether a map result is the new state as it is (none of the result keys), so the loop takes it without
        the contract; never under ``:result :strict``, where every result goes through it."""
        self.name = name
        self.takes_meta = takes_meta
        self.shape = shape
        """What the processor always returns, if its script's compiler could tell (:func:`result_shape`)."""
        self.on_end = on_end
        self.guard = guard
        """Schemas and ``:on-error`` policy (:mod:`streamrt.policy.guard`); None: nothing checked per chunk."""
        self.loops = loops
        """The chunk loops generated for this configuration (:func:`~streamrt.runtime.loops.loops_for`)."""
        self.max_state = max_state
        """How many bytes the state may hold (the ``max-state`` limit; None: unchecked)."""


def _never(_: Any) -> bool:
    return False


_STATE_ONLY: Final[dict[int, Callable[[Any], bool]]] = {
    0: RESULT_KEYS.isdisjoint,
    STRINGS: (RESULT_KEYS | STRING_RESULT_KEYS).isdisjoint,
    STRICT: _never,
    STRINGS | STRICT: _never,
}


class StreamTasks:
    """What the asyncio engine keeps for a stream: its tasks, who waits on it, and the write it waits for."""

    __slots__ = (
        "batch",
        "closed",
        "done_waiters",
        "pending",
        "reader",
        "source",
        "space_waiters",
        "timer_handles",
        "worker",
    )

    def __init__(self) -> None:
        self.worker: asyncio.Task[None] | None = None
        self.reader: asyncio.Task[None] | None = None
        self.source: Source | None = None
        self.space_waiters: list[asyncio.Future[None]] | None = None
        self.done_waiters: list[asyncio.Future[None]] | None = None
        self.pending: Awaitable[None] | None = None
        """A write the stream waits for before its next chunk (a snapshot, a dead letter)."""
        self.batch = BATCH
        """Queued chunks one batch may take (a snapshot policy may ask for fewer)."""
        self.timer_handles: dict[Any, Any] | None = None
        """The clock's handle of each armed timer, by name (:mod:`streamrt.runtime.timers`)."""
        self.closed: str | None = None
        """Why the stream takes no more chunks although it is not over (its provider shut down, it was
        released to another provider); None while it takes them."""


class DeadLetters(deque[DeadLetter]):
    """The dead letters a stream without a store keeps in memory, newest last, and how many were pushed out."""

    __slots__ = ("dropped",)

    def __init__(self, limit: int) -> None:
        super().__init__(maxlen=limit)
        self.dropped = 0

    def keep(self, letter: DeadLetter) -> None:
        if len(self) == self.maxlen:
            self.dropped += 1
        self.append(letter)


class StreamRecord:
    """One stream's state and its parts; mutated only by its provider (single-threaded)."""

    __slots__ = (
        "backpressure_wait",
        "continuation",
        "dead_lettered",
        "dropped",
        "due",
        "errors",
        "faults",
        "id",
        "initial_state",
        "input_ended",
        "last_event_time",
        "last_latency",
        "letters",
        "look_at",
        "message",
        "output_seq",
        "outputs",
        "pace",
        "processed",
        "program",
        "queue",
        "seq",
        "skipped",
        "source_failure",
        "source_kind",
        "spec",
        "state",
        "state_check_at",
        "state_seen",
        "status",
        "tasks",
        "timers",
        "timers_run",
    )

    def __init__(
        self,
        stream_id: str,
        program: Program,
        *,
        initial_state: Any,
        spec: StreamSpec = EMPTY_SPEC,
        capacity: int = DEFAULT_QUEUE_CAPACITY,
        source_kind: str = "host",
    ) -> None:
        if type(capacity) is not int or capacity < 1:
            raise UsageError(
                f"stream {stream_id}: queue capacity must be a positive integer, got {capacity!r}"
            )
        self.id = stream_id
        self.spec = spec
        self.program = program
        self.queue = ChunkQueue(capacity)
        self.tasks = StreamTasks()
        self.state = initial_state
        self.initial_state = initial_state
        self.status = Status.ACTIVE
        self.message: str | None = None
        self.seq = 0
        self.output_seq = 0
        self.continuation: Continuation | None = None
        self.source_kind = source_kind
        self.input_ended = False
        self.source_failure: str | None = None
        """Set when the source gave up: what it delivered is processed first, then the stream fails with it."""
        self.faults: dict[int, str] | None = None
        """The first queued chunk the source could not decode: ``(seq, message)``."""
        self.letters: DeadLetters | None = None
        self.processed = 0
        self.dropped = 0
        self.errors = 0
        self.outputs = 0
        self.last_latency: float | None = None
        self.last_event_time: float | None = None
        self.backpressure_wait = 0.0
        self.skipped = 0
        self.dead_lettered = 0
        self.timers: dict[Any, float] | None = None
        """Timers set and not yet due: name -> due time (seconds since the epoch, the provider's clock)."""
        self.due: deque[tuple[Any, int, float]] | None = None
        """Timers that came due and wait to run: ``(name, last chunk accepted before, due time)``, in order."""
        self.timers_run = 0
        self.look_at = 0
        """The chunk after which the chunk loop looks around: at the status, and at the clock for the stream's turn
        (:mod:`streamrt.lang.turn`); 0 (at once) after a status change."""
        self.pace = 1
        """Chunks between two looks at the clock, as learned from the stream's speed."""
        self.state_check_at = 0.0
        """When (``time.perf_counter``) the size of the state is looked at next (:mod:`streamrt.runtime.state_size`)."""
        self.state_seen: tuple[int, float] | None = None
        """The size of the state at the last look, and when."""

    def __repr__(self) -> str:
        return f"<StreamRecord {self.id} {self.status.value} queued={len(self.queue)}>"

    @property
    def capacity(self) -> int:
        return self.queue.capacity

    @property
    def full(self) -> bool:
        return len(self.queue) >= self.queue.capacity

    @property
    def processor_name(self) -> str:
        return self.program.name

    @property
    def queue_high_watermark(self) -> int:
        return self.queue.high_watermark

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
        if depth >= queue.capacity:
            raise QueueFullError(f"stream {self.id}: queue full ({queue.capacity} chunks waiting)")
        self.seq += 1
        queue.append((self.seq, chunk, meta, now))
        if depth >= queue.high_watermark:
            queue.high_watermark = depth + 1
        return t

    def offer_fault(
        self, message: str, raw: str | None, meta: dict[Keyword, Any] | None, now: float
    ) -> Transition:
        """Accept a chunk the source could not decode (``raw``: its text, bounded); ``:on-error`` decides what it
        means when its turn comes."""
        t = self.offer(raw, meta, now)
        if self.faults is None:
            self.faults = {}
        self.faults[self.seq] = message
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
        room = queue.capacity - before
        if room <= 0:
            return 0
        queue.extend(
            zip(itertools.count(self.seq + 1), itertools.islice(chunks, room), repeat(meta), repeat(now))
        )
        taken = len(queue) - before
        self.seq += taken
        if before + taken > queue.high_watermark:
            queue.high_watermark = before + taken
        return taken

    def apply(self, event: Event, message: str | None = None) -> Transition:
        """Feed ``event`` to the machine and do the record's part of the effects (discard, count, keep message)."""
        t = transition(self.status, event)
        self.look_at = 0  # a batch in progress looks at the new status after its chunk
        if t.effects:
            if t.record_error:
                self.errors += 1
                self.message = message
            if t.discard_queue:
                self.dropped += len(self.queue)
                self.queue.clear()
                self.faults = None
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
            queue_high_watermark=self.queue.high_watermark,
            backpressure_wait=self.backpressure_wait,
            skipped=self.skipped,
            dead_lettered=self.dead_lettered,
            timers_run=self.timers_run,
        )
