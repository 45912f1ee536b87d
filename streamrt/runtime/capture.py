"""A stream's snapshot, taken from its record and put back into a fresh one.

Kept apart from the policies of :mod:`streamrt.runtime.persist` (when to write): this is only what a snapshot holds.
:func:`snapshot_of` runs between chunks and copies the record at one moment (state, status, queued chunks with the
time each was received, the source's continuation, the counters), so every snapshot is a consistent cut;
:func:`fill` is its inverse on a fresh record, and brings the record to the snapshot's status through the
directive machine (:func:`~streamrt.runtime.machine.restore_event`), as any other status change. A queued chunk the
source could not decode keeps its raw text as the chunk and its message under a key of its metadata.
"""

from __future__ import annotations

import time
from typing import Any, Final

from streamrt.runtime.machine import Status, restore_event
from streamrt.runtime.reading import is_source_failure
from streamrt.runtime.spec import SCRIPT
from streamrt.runtime.stream import StreamRecord
from streamrt.secrets import stored_options
from streamrt.store import Snapshot
from streamrt.values import Keyword, type_name

__all__ = ["SCRIPT_KEY", "fill", "restored_status", "snapshot_of", "source_failed"]

SCRIPT_KEY: Final = SCRIPT
"""The option under which a snapshot records the script's path, so ``resume`` can find the script again."""
_FAULT_KEY: Final = Keyword("streamrt-fault")
_STATS: Final = (
    "processed",
    "dropped",
    "errors",
    "outputs",
    "backpressure_wait",
    "skipped",
    "dead_lettered",
    "timers_run",
)
_OPTIONAL_STATS: Final = ("last_latency", "last_event_time")


def snapshot_of(
    record: StreamRecord,
    *,
    processor_hash: str = "",
    source_uri: str | None = None,
    script_path: str | None = None,
) -> Snapshot:
    """Everything needed to bring ``record`` back, taken now (cheap: values are immutable, the queue is copied)."""
    faults = record.faults
    if faults:
        queue = [
            (chunk, {**(meta or {}), _FAULT_KEY: faults[seq]} if seq in faults else (meta or {}))
            for seq, chunk, meta, _ in record.queue
        ]
    else:
        queue = [(chunk, meta or {}) for _, chunk, meta, _ in record.queue]
    received = [entry[3] for entry in record.queue]
    # functions cannot be stored; keywords and sets are callable too but are data (:on-error :skip, #{:a :b})
    options = {k: v for k, v in record.spec.options().items() if type_name(v) != "function"}
    options, source_uri = stored_options(options, source_uri)  # references, never the secrets
    if script_path is not None:
        options[SCRIPT_KEY] = script_path
    stats: dict[str, int | float] = {name: getattr(record, name) for name in _STATS}
    stats["queue_high_watermark"] = record.queue.high_watermark
    for name in _OPTIONAL_STATS:
        value = getattr(record, name)
        if value is not None:
            stats[name] = value
    return Snapshot(
        stream_id=record.id,
        processor=record.program.name,
        processor_hash=processor_hash,
        state=record.state,
        initial_state=record.initial_state,
        status=record.status.value,
        status_message=record.message,
        queue=queue,
        continuation=dict(record.continuation) if record.continuation is not None else None,
        source_uri=source_uri,
        queue_capacity=record.queue.capacity,
        options=options,
        stats=stats,
        seq=record.seq,
        output_seq=record.output_seq,
        input_ended=record.input_ended,
        source_kind=record.source_kind,
        source_failed=_source_failed(record),
        queue_received_at=received,
        timers=timers_of(record),
    )


def timers_of(record: StreamRecord) -> list[tuple[Any, float]]:
    """Every timer of ``record``, due or not, as ``(name, due seconds)``: those that came due first."""
    out = [(name, due) for name, _, due in record.due or ()]
    if record.timers:
        out += record.timers.items()
    return out


def _source_failed(record: StreamRecord) -> bool:
    """The source gave up and the stream drains or failed because of it.

    An ``:error`` with another message failed for another reason (the processor, while draining), and stays so.
    """
    failure = record.source_failure
    return failure is not None and (record.status is not Status.ERROR or record.message == failure)


def restored_status(snapshot: Snapshot) -> tuple[Status, bool]:
    """The status a stream comes back in, and whether its input has ended.

    As recorded, except for a stream whose source gave up: what the source delivered was processed, or is in the
    queue, and the continuation says where it stopped, so the stream goes on from there, active, with its source
    reopened (docs/sources.md).
    """
    status = Status(snapshot.status)
    if source_failed(snapshot):
        return (Status.ACTIVE if status is Status.ERROR else status), False
    return status, snapshot.input_ended


def fill(record: StreamRecord, snapshot: Snapshot, *, now: float | None = None) -> None:
    """Put a snapshot's state, status, queue, counters, continuation and input-ended flag into a fresh record.

    Queued chunks keep the time they were received (their ``:received-at``); snapshots that did not record it
    (before format 4) stamp them with ``now``.
    """
    now = time.time() if now is None else now
    status, input_ended = restored_status(snapshot)
    event = restore_event(status)
    if event is not None:
        record.apply(event, snapshot.status_message)
    record.message = snapshot.status_message if status is Status(snapshot.status) else None
    record.state = snapshot.state
    record.initial_state = snapshot.initial_state
    record.seq = snapshot.seq
    record.output_seq = snapshot.output_seq
    record.continuation = dict(snapshot.continuation) if snapshot.continuation is not None else None
    record.input_ended = input_ended
    if snapshot.source_kind:
        record.source_kind = snapshot.source_kind
    for name in (*_STATS, *_OPTIONAL_STATS):
        if name in snapshot.stats:
            setattr(record, name, snapshot.stats[name])
    record.queue.high_watermark = int(snapshot.stats.get("queue_high_watermark", 0))
    first = snapshot.seq - len(snapshot.queue) + 1
    received = snapshot.queue_received_at
    if received is None or len(received) != len(snapshot.queue):
        received = [now] * len(snapshot.queue)
    record.timers = {name: due for name, due in snapshot.timers} or None
    record.queue.clear()
    record.faults = None
    for i, (chunk, meta) in enumerate(snapshot.queue):
        seq = first + i
        fault = meta.get(_FAULT_KEY) if isinstance(meta, dict) else None
        if fault is None:
            record.queue.append((seq, chunk, meta or None, received[i]))
            continue
        if record.faults is None:
            record.faults = {}
        record.faults[seq] = str(fault)
        kept = {k: v for k, v in meta.items() if k != _FAULT_KEY}
        record.queue.append((seq, chunk, kept or None, received[i]))


def source_failed(snapshot: Snapshot) -> bool:
    """Whether the stream's source gave up, so a resume reopens it (see :attr:`Snapshot.source_failed`).

    Snapshots before format 3 did not record it: for them an ``:error`` message of the reader's
    ``source URI: cause`` shape is the only sign.
    """
    if snapshot.source_failed is not None:
        return snapshot.source_failed
    return snapshot.status == Status.ERROR.value and is_source_failure(
        snapshot.status_message, snapshot.source_uri
    )
