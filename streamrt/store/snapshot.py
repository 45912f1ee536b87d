"""What a store keeps about a stream: the :class:`Snapshot`, and the small records stores list and return.

A snapshot is everything a provider needs to bring a stream back after its process died: state, status, the queued
chunks, the source's continuation and the bookkeeping (sequence numbers, stats, outputs not yet emitted). It is a
plain mutable record (a :class:`msgspec.Struct`, as every value class here) so the provider can keep one per stream
and update it in place between writes; the codec turns it into bytes and back.
"""

from __future__ import annotations

import time
from typing import Any, Final

import msgspec

__all__ = [
    "FORMAT_VERSION",
    "DeadLetter",
    "Lease",
    "Snapshot",
    "StreamSummary",
]

FORMAT_VERSION: Final = 5
"""The snapshot encoding the codec writes; bumped whenever the field layout changes (2 added ``input_ended`` and
``source_kind``, 3 added ``source_failed``, 4 added ``queue_received_at``, 5 added ``timers``; the codec still reads
1 to 4)."""


class Snapshot(msgspec.Struct):
    """One stream's persisted record.

    ``version`` belongs to the store: a successful ``put`` sets it (and ``updated_at``), and the caller passes it
    back as ``expected_version`` on the next write so a write that lost a race is refused.
    """

    stream_id: str
    processor: str
    processor_hash: str = ""
    state: Any = None
    initial_state: Any = None
    status: str = "active"
    status_message: str | None = None
    queue: list[tuple[Any, dict[Any, Any]]] = msgspec.field(default_factory=list)
    """Chunks accepted but not processed yet, in arrival order: ``(value, meta)``."""
    continuation: dict[str, Any] | None = None
    """Where the source resumes: the continuation of the last item consumed."""
    source_uri: str | None = None
    queue_capacity: int = 0
    options: dict[Any, Any] = msgspec.field(default_factory=dict)
    stats: dict[str, int | float] = msgspec.field(default_factory=dict)
    seq: int = 0
    """Chunks accepted so far."""
    output_seq: int = 0
    """Outputs produced so far; each output line carries its number so a consumer can drop repeats."""
    pending_outputs: list[tuple[int, Any]] = msgspec.field(default_factory=list)
    """Outputs produced but not yet emitted: ``(output seq, value)``; emitted first on resume."""
    version: int = 0
    format_version: int = FORMAT_VERSION
    created_at: float = msgspec.field(default_factory=time.time)
    updated_at: float = msgspec.field(default_factory=time.time)
    input_ended: bool = False
    """The stream's input had ended (a finite source ran out, or ``end_input``): once the queue drains it completes
    rather than waiting for more."""
    source_kind: str = ""
    """The chunks' ``:source`` label (``jsonl``, ``sse``, ``host``, ...); empty in format 1 snapshots."""
    source_failed: bool | None = False
    """The stream's source gave up (the stream is in ``:error`` for it, or still draining what the source had
    delivered): a resume reopens the source from the continuation. None in snapshots older than format 3, which
    did not record it (resume then recognises the failure by the status message)."""
    queue_received_at: list[float] | None = None
    """When each queued chunk was received (seconds since the epoch, one per ``queue`` item), so its
    ``:received-at`` meta survives a resume. None when not recorded (snapshots older than format 4): resume then
    stamps the queued chunks with the time of the resume."""
    timers: list[tuple[Any, float]] = msgspec.field(default_factory=list)
    """The stream's timers, due or not: ``(name, due time in seconds since the epoch)``; a resume arms them again
    and runs those whose time has passed at once (empty in snapshots older than format 5, which had no timers)."""
    fence: int = 0
    """The fencing token of the lease it was written under (0: no fencing). Not part of the encoded snapshot: a
    store that checks fences (:attr:`~streamrt.store.SnapshotStore.fencing`) keeps it beside the blob, refuses a
    write whose fence is lower than the one it holds, and fills it in on :meth:`~streamrt.store.SnapshotStore.get`."""


class StreamSummary(msgspec.Struct, frozen=True):
    """A store listing row: enough to show ``streamrt list`` without decoding every snapshot."""

    stream_id: str
    processor: str
    status: str
    version: int
    updated_at: float
    seq: int
    fence: int = 0
    """The fencing token of the last write (0 when the store does not check fences)."""


class Lease(msgspec.Struct, frozen=True):
    """Who owns a stream, until when (seconds since the epoch by the claiming host's clock)."""

    stream_id: str
    owner: str
    expires_at: float


class DeadLetter(msgspec.Struct, frozen=True):
    """A chunk the stream gave up on, kept for a human to look at."""

    stream_id: str
    seq: int
    chunk: Any
    meta: Any
    error: str
    created_at: float
